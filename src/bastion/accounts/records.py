"""The rows the account services take and give back (the store's records, named here so the
account API reaches them through the services and never imports the store)."""

from __future__ import annotations

from bastion.store.records import ConversationRecord, UserRecord

__all__ = ["ConversationRecord", "UserRecord"]
