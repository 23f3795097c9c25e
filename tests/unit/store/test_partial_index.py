"""The partial indexes keep their predicate on both backends without the schema module importing
SQLAlchemy's PostgreSQL dialect (bastion.store._dialects.PartialIndex)."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from bastion.store.schema import metadata

_PARTIAL = {
    "ix_users_login_email": "WHERE password_hash IS NOT NULL",
    "ix_spend_logs_unbilled": "WHERE billing IS NULL",
}


def test_each_partial_index_has_its_predicate_on_sqlite_and_postgresql() -> None:
    indexes = {index.name: index for table in metadata.tables.values() for index in table.indexes}
    for name, predicate in _PARTIAL.items():
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            ddl = str(CreateIndex(indexes[name]).compile(dialect=dialect))
            assert ddl.endswith(predicate), (dialect.name, ddl)


def test_the_schema_loads_without_the_postgresql_dialect() -> None:
    script = (
        "import sys, bastion.store.schema\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
