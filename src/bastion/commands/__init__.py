"""The ``bastion`` subcommands other than ``serve``: database and key administration."""
