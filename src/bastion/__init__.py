"""Bastion: a self-hosted LLM gateway that holds the provider keys."""

__all__ = ["__version__"]

__version__ = "0.1.0"
