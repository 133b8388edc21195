"""runs.note: what the run did differently from what was asked, in words (NULL: nothing).

An as-of without a bar (a holiday, a day not ingested yet) is answered with each ticker's newest
bar before it; the note names the day actually used, so the row never claims the day asked.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, as in 0008: batch mode would copy and drop `runs`, which run items reference.


def upgrade() -> None:
    op.add_column("runs", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "note")
