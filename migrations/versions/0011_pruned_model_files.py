"""model_versions.pruned_at: when retention removed a version's file (NULL: the file is kept).

The row itself stays, so forecasts keep citing the version that made them; only its `.keras`
file is gone (see forecaster/routine/retention.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, as in 0008: batch mode would copy and drop `model_versions`, which
# forecasts and run items reference.


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("pruned_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("model_versions", "pruned_at")
