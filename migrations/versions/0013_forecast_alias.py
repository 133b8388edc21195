"""v_forecasts.forecast: the forecast value under the name the CLI's tables and JSON use.

`yhat` stays (columns are only ever added to a view, and queries written against it keep
working); `forecast` is the same value, appended at the end. v_latest_forecasts selects `v.*`
from v_forecasts, so it is recreated too (PostgreSQL expands `v.*` when a view is made).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported: a migration must keep meaning what it meant when it shipped.
V_FORECASTS_0010 = """
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
    f.created_at,
    CASE WHEN EXISTS (
        SELECT 1 FROM trading_calendar AS c
        WHERE c.exchange = 'SSE' AND c.cal_date = f.target_date AND c.source = 'estimated'
    ) THEN 1 ELSE 0 END AS target_estimated,
    f.lo80,
    f.hi80,
    f.lo95,
    f.hi95
FROM forecasts AS f
"""

V_FORECASTS = V_FORECASTS_0010.replace("    f.hi95\n", "    f.hi95,\n    f.yhat AS forecast\n")

# As in 0010 (and 0007).
V_LATEST_FORECASTS = """
CREATE VIEW v_latest_forecasts AS
SELECT v.*
FROM latest_as_of AS latest
CROSS JOIN v_forecasts AS v
WHERE v.ticker = latest.ticker AND v.model = latest.model AND v.as_of = latest.as_of
"""


def _recreate(v_forecasts: str) -> None:
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
    op.execute("DROP VIEW IF EXISTS v_forecasts")
    op.execute(v_forecasts)
    op.execute(V_LATEST_FORECASTS)


def upgrade() -> None:
    _recreate(V_FORECASTS)


def downgrade() -> None:
    _recreate(V_FORECASTS_0010)
