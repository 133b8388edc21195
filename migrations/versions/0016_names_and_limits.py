"""name_periods and limit_prices: a stock's names over time (tushare namechange, where the ST
periods show) and each bar's limit prices as the exchange set them (tushare stk_limit).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "name_periods",
        sa.Column("ticker", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "start_date", name=op.f("pk_name_periods")),
    )
    op.create_table(
        "limit_prices",
        sa.Column("ticker", sa.String(length=16), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("up_limit", sa.Float(), nullable=False),
        sa.Column("down_limit", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "trade_date", name=op.f("pk_limit_prices")),
    )


def downgrade() -> None:
    op.drop_table("limit_prices")
    op.drop_table("name_periods")
