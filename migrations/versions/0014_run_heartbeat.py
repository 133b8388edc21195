"""runs.heartbeat_at: when the run last showed it was alive (at its start and after each ticker).

A `running` row whose heartbeat (or start, on older rows) is older than
FORECASTER_STALE_RUN_MINUTES is over, whatever machine ran it: a pid can only be checked on its
own machine, a heartbeat from anywhere that shares the database.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, as in 0008: batch mode would copy and drop `runs`, which run items reference.


def upgrade() -> None:
    op.add_column("runs", sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "heartbeat_at")
