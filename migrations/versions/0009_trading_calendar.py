"""trading_calendar (the stored trading days and their sources), calendar_fetches, and
v_forecasts.target_estimated (is the forecast's target day still an estimate?).

v_forecasts gains its column at the end; v_latest_forecasts selects `v.*` from it, so both
views are dropped and recreated (PostgreSQL refuses to drop a view another one depends on).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_V_FORECASTS = """
CREATE VIEW v_forecasts AS
SELECT
    f.ticker,
    f.model,
    f.model_version_id AS model_version,
    f.as_of,
    f.target_date,
    f.horizon,
    f.target,
    f.yhat,
    f.last_close,
    f.actual,
    CASE WHEN f.actual IS NULL THEN NULL ELSE abs(f.yhat - f.actual) END AS abs_error,
    f.created_at{extra}
FROM forecasts AS f
"""
# 1 while the target day is only estimated to be a trading day; it becomes 0 when a published
# list (or the day's bar) confirms it, or the target date moves to the day that really trades.
_TARGET_ESTIMATED = """,
    CASE WHEN EXISTS (
        SELECT 1 FROM trading_calendar AS c
        WHERE c.exchange = 'SSE' AND c.cal_date = f.target_date AND c.source = 'estimated'
    ) THEN 1 ELSE 0 END AS target_estimated"""
V_FORECASTS = _V_FORECASTS.format(extra=_TARGET_ESTIMATED)
V_FORECASTS_0003 = _V_FORECASTS.format(extra="")
# As in 0007.
V_LATEST_FORECASTS = """
CREATE VIEW v_latest_forecasts AS
SELECT v.*
FROM latest_as_of AS latest
CROSS JOIN v_forecasts AS v
WHERE v.ticker = latest.ticker AND v.model = latest.model AND v.as_of = latest.as_of
"""


def _recreate_views(v_forecasts: str) -> None:
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
    op.execute("DROP VIEW IF EXISTS v_forecasts")
    op.execute(v_forecasts)
    op.execute(V_LATEST_FORECASTS)


def upgrade() -> None:
    op.create_table(
        "trading_calendar",
        sa.Column("exchange", sa.String(length=8), nullable=False),
        sa.Column("cal_date", sa.Date(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("exchange", "cal_date", name=op.f("pk_trading_calendar")),
    )
    op.create_table(
        "calendar_fetches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exchange", sa.String(length=8), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.Column("fetched_on", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_fetches")),
    )
    _recreate_views(V_FORECASTS)


def downgrade() -> None:
    _recreate_views(V_FORECASTS_0003)
    op.drop_table("calendar_fetches")
    op.drop_table("trading_calendar")
