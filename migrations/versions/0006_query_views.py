"""Query surface: v_latest_forecasts and v_accuracy_windows (accuracy over recent windows).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The newest as-of per (ticker, model), all its horizons. A join on a grouped subquery rather
# than a window function: SQLite pushes `WHERE ticker = ?` into the GROUP BY subquery, and both
# the max() and the join back are seeks on the natural-key index (ticker, model, as_of,
# target_date), so one ticker costs a few index probes however many forecasts are stored.
V_LATEST_FORECASTS = """
CREATE VIEW v_latest_forecasts AS
SELECT v.*
FROM v_forecasts AS v
JOIN (
    SELECT ticker, model, max(as_of) AS as_of
    FROM forecasts
    GROUP BY ticker, model
) AS latest
    ON latest.ticker = v.ticker AND latest.model = v.model AND latest.as_of = v.as_of
"""

# v_accuracy scores everything ever matured; after a retrain or a regime change the recent
# forecasts are the ones that tell. `window` names the set: 'all', or 'last_N' = the N newest
# matured target days of that (ticker, model, horizon). Same metrics and rules as v_accuracy.
V_ACCURACY_WINDOWS = """
CREATE VIEW v_accuracy_windows AS
WITH ranked AS (
    SELECT
        ticker, model, horizon, target_date, yhat, actual, last_close,
        row_number() OVER (PARTITION BY ticker, model, horizon ORDER BY target_date DESC) AS k
    FROM forecasts
    WHERE actual IS NOT NULL
),
windows (name, size) AS (VALUES ('all', NULL), ('last_20', 20), ('last_60', 60))
SELECT
    r.ticker,
    r.model,
    r.horizon,
    w.name AS window,
    count(*) AS n,
    min(r.target_date) AS first_target,
    max(r.target_date) AS last_target,
    avg(abs(r.yhat - r.actual)) AS mae,
    sqrt(avg((r.yhat - r.actual) * (r.yhat - r.actual))) AS rmse,
    100.0 * avg(abs((r.yhat - r.actual) / r.actual)) AS mape,
    avg(
        CASE
            WHEN (r.yhat - r.last_close) * (r.actual - r.last_close) > 0 THEN 1.0
            WHEN (r.yhat - r.last_close) * (r.actual - r.last_close) < 0 THEN 0.0
        END
    ) AS hit_rate
FROM ranked AS r
JOIN windows AS w ON w.size IS NULL OR r.k <= w.size
GROUP BY r.ticker, r.model, r.horizon, w.name
"""


def upgrade() -> None:
    op.execute(V_LATEST_FORECASTS)
    op.execute(V_ACCURACY_WINDOWS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_accuracy_windows")
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
