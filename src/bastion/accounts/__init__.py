"""People who log in: accounts, their provider keys, model discovery, chat and usage (the ``/v2`` API).

The services here sit between the account API (:mod:`bastion.api.account`) and the gateway: the
chat of :class:`~bastion.accounts.conversations.ConversationService` goes through the same
:class:`~bastion.gateway.pipeline.Pipeline` as every other surface. An account is a row of the
``users`` table with a password, so the ``user_id`` in spend logs is the account itself.
"""
