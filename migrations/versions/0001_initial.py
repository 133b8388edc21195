"""Initial schema: bars, adjustment factors, ingest log, and the v_bars view.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The stable surface for users' own SQL: ISO dates, prices as stored (unadjusted).
V_BARS = """
CREATE VIEW v_bars AS
SELECT ticker, trade_date, open, high, low, close, volume, amount, source
FROM bars
"""


def upgrade() -> None:
    op.create_table(
        "adj_factors",
        sa.Column("ticker", sa.String(length=16), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("adj_factor", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "trade_date", name=op.f("pk_adj_factors")),
    )
    op.create_table(
        "bars",
        sa.Column("ticker", sa.String(length=16), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("pre_close", sa.Float(), nullable=True),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "trade_date", name=op.f("pk_bars")),
    )
    op.create_table(
        "ingest_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticker", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_new", sa.Integer(), nullable=False),
        sa.Column("rows_changed", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("factors_written", sa.Integer(), nullable=False),
        sa.Column("closed_day_bars", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("fetch_seconds", sa.Float(), nullable=True),
        sa.Column("write_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_log")),
    )
    with op.batch_alter_table("ingest_log") as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_log_ticker"), ["ticker"], unique=False)
    op.execute(V_BARS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_bars")
    with op.batch_alter_table("ingest_log") as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_log_ticker"))
    op.drop_table("ingest_log")
    op.drop_table("bars")
    op.drop_table("adj_factors")
