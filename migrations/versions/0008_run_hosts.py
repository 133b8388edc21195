"""runs.host and job_runs.host: the machine a row's pid lives on.

With one PostgreSQL database shared by several machines, a `running` row's pid can only be
checked on the machine that wrote it; rows written before this revision keep NULL (one machine).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("runs", "job_runs")


# Plain ALTER TABLE, not batch mode: both databases add and drop a plain nullable column in
# place, while batch mode would copy and drop `runs`, which other tables' rows reference (a
# foreign-key failure on any database with runs in it).


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "host")
