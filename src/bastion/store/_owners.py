"""What teams and users have in common: rows keyed by an id, created, read, updated and paged.

Each repository names its table, id column, record type and updatable fields; deleting stays with
each, because what happens to the keys differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store._mapping import checked_changes, record_from_row, record_values
from bastion.store._transactions import reading, writing
from bastion.store.errors import AlreadyExistsError
from bastion.store.records import Page

__all__ = ["OwnerRepository"]

R = TypeVar("R")


class OwnerRepository(Generic[R]):
    _table: ClassVar[Table]
    _id: ClassVar[str]
    _record: type[R]
    _updatable: ClassVar[frozenset[str]]
    #: "team" or "user", for messages and error codes.
    _noun: ClassVar[str]

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, record: R) -> R:
        """Insert ``record``; :class:`AlreadyExistsError` if its id is taken."""
        now = self._clock()
        stamped = replace(  # type: ignore[type-var]
            record,
            created_at=getattr(record, "created_at", None) or now,
            updated_at=getattr(record, "updated_at", None) or now,
        )
        query = insert(self._table).values(record_values(stamped)).returning(self._table)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(query)).one()
        except sa_exc.IntegrityError as exc:
            ident = getattr(record, self._id)
            raise AlreadyExistsError(
                f"A {self._noun} with {self._id} '{ident}' already exists.",
                param=self._id,
                code=f"{self._noun}_exists",
            ) from exc
        return record_from_row(self._record, row)

    async def get(self, ident: str) -> R | None:
        query = select(self._table).where(self._table.c[self._id] == ident)
        async with reading(self._engine) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else record_from_row(self._record, row)

    async def update(self, ident: str, changes: Mapping[str, Any]) -> R | None:
        """Apply ``changes`` (names from the updatable fields); ``None`` if no such row.

        :class:`AlreadyExistsError` when a change takes a unique value another row holds (an
        account's login e-mail).
        """
        values = checked_changes(changes, self._updatable)
        values["updated_at"] = self._clock()
        table = self._table
        query = update(table).where(table.c[self._id] == ident).values(values).returning(table)
        try:
            async with writing(self._engine) as conn:
                row = (await conn.execute(query)).first()
        except sa_exc.IntegrityError as exc:
            fields = sorted(set(changes) - {"updated_at"})
            raise AlreadyExistsError(
                f"Another {self._noun} already has this value of {', '.join(fields)}; "
                "unique fields cannot be shared.",
                param=fields[0] if fields else None,
                code=f"{self._noun}_exists",
            ) from exc
        return None if row is None else record_from_row(self._record, row)

    async def _page(self, page: int, size: int) -> Page[R]:
        """Rows, oldest first."""
        table = self._table
        query = (
            select(table)
            .order_by(table.c.created_at, table.c[self._id])
            .limit(size)
            .offset((max(page, 1) - 1) * size)
        )
        async with reading(self._engine) as conn:
            total = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            rows = (await conn.execute(query)).all()
        return Page(tuple(record_from_row(self._record, r) for r in rows), total, page, size)
