"""Quantiles and intervals on forecasts; v_forecasts' bands, v_interval_windows, v_champion.

Columns on `forecasts` rather than a table of their own: the quantile set is fixed (one column
per level of model/quantiles.QUANTILE_LEVELS), so a forecast stays one row written by one
idempotent upsert on its natural key, and every view reads it without a join or a pivot. A level
added later is one more column, which is how this schema grows anyway (columns are only added).

- q025 .. q975: the model's own quantiles (prices), NULL for a forecast without any (the
  networks until they forecast quantiles; rows written before this revision);
- lo80, hi80, lo95, hi95: the intervals as issued, after the routine's online calibration;
- scale80, scale95: the calibration factor applied to each (1: the model's interval as it was).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported: a migration must keep meaning what it meant when it shipped.
LEVELS = (0.025, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.975)
QUANTILE_COLUMNS = tuple(f"q{round(level * 1000):03d}" for level in LEVELS)
INTERVAL_COLUMNS = ("lo80", "hi80", "lo95", "hi95", "scale80", "scale95")


def _pinball(alias: str) -> str:
    """Mean pinball loss of one forecast over the quantile set, as SQL (CASE, not max(): PostgreSQL
    has no two-argument max)."""
    terms = [
        f"CASE WHEN {alias}.actual >= {alias}.{col} THEN {level} * ({alias}.actual - {alias}.{col}) "
        f"ELSE {1 - level:.3f} * ({alias}.{col} - {alias}.actual) END"
        for level, col in zip(LEVELS, QUANTILE_COLUMNS, strict=True)
    ]
    return "(" + " + ".join(terms) + f") / {len(LEVELS)}.0"


def _winkler(lo: str, hi: str, alpha: float) -> str:
    penalty = 2.0 / alpha
    return (
        f"({hi} - {lo}) + CASE WHEN actual < {lo} THEN {penalty} * ({lo} - actual) "
        f"WHEN actual > {hi} THEN {penalty} * (actual - {hi}) ELSE 0.0 END"
    )


V_FORECASTS_0009 = """
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
    ) THEN 1 ELSE 0 END AS target_estimated
FROM forecasts AS f
"""

# 0009's columns, then the bands appended (columns are only ever added to a view).
V_FORECASTS = V_FORECASTS_0009.replace(
    "    ) THEN 1 ELSE 0 END AS target_estimated\n",
    "    ) THEN 1 ELSE 0 END AS target_estimated,\n    f.lo80,\n    f.hi80,\n    f.lo95,\n    f.hi95\n",
)

# As in 0007; recreated because it depends on v_forecasts (PostgreSQL expands `v.*` when a view
# is made, so it would not show the new columns otherwise).
V_LATEST_FORECASTS = """
CREATE VIEW v_latest_forecasts AS
SELECT v.*
FROM latest_as_of AS latest
CROSS JOIN v_forecasts AS v
WHERE v.ticker = latest.ticker AND v.model = latest.model AND v.as_of = latest.as_of
"""

# (Coverage is cast: PostgreSQL would average 1.0 / 0.0 as numeric, read back as Decimal.)
# Interval accuracy like v_accuracy_windows: 'all', or the N newest matured target days of each
# (ticker, model, horizon) that has intervals. Coverage is the share of actuals inside the
# interval as issued; the pinball loss scores the model's own quantiles.
V_INTERVAL_WINDOWS = f"""
CREATE VIEW v_interval_windows AS
WITH ranked AS (
    SELECT
        ticker, model, horizon, target_date, actual, lo80, hi80, lo95, hi95,
        {_pinball("forecasts")} AS pinball,
        {_winkler("lo80", "hi80", 0.20)} AS winkler80,
        {_winkler("lo95", "hi95", 0.05)} AS winkler95,
        row_number() OVER (PARTITION BY ticker, model, horizon ORDER BY target_date DESC) AS k
    FROM forecasts
    WHERE actual IS NOT NULL AND q500 IS NOT NULL AND lo80 IS NOT NULL
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
    avg(CAST(CASE WHEN r.actual >= r.lo80 AND r.actual <= r.hi80 THEN 1 ELSE 0 END AS DOUBLE PRECISION)) AS coverage_80,
    avg(CAST(CASE WHEN r.actual >= r.lo95 AND r.actual <= r.hi95 THEN 1 ELSE 0 END AS DOUBLE PRECISION)) AS coverage_95,
    avg(r.hi80 - r.lo80) AS width_80,
    avg(r.hi95 - r.lo95) AS width_95,
    avg(r.winkler80) AS winkler_80,
    avg(r.winkler95) AS winkler_95,
    avg(r.pinball) AS pinball
FROM ranked AS r
JOIN windows AS w ON w.size IS NULL OR r.k <= w.size
GROUP BY r.ticker, r.model, r.horizon, w.name
"""

# The champion per (ticker, horizon): of the models whose mean pinball loss over their last 60
# matured forecasts (at least 20 of them) is below naive's on the same (as_of, target_date)
# pairs, the one furthest below (lowest pinball / naive's); naive while none is below. Pairs
# with forecasts but nothing matured yet have naive too, with n = 0.
V_CHAMPION = f"""
CREATE VIEW v_champion AS
WITH scored AS (
    SELECT f.ticker, f.model, f.horizon, f.as_of, f.target_date, {_pinball("f")} AS pinball
    FROM forecasts AS f
    WHERE f.actual IS NOT NULL AND f.q500 IS NOT NULL
),
ranked AS (
    SELECT s.*, row_number() OVER (PARTITION BY ticker, model, horizon ORDER BY target_date DESC) AS k
    FROM scored AS s
),
recent AS (
    SELECT r.ticker, r.model, r.horizon, count(*) AS n, avg(r.pinball) AS pinball, avg(nv.pinball) AS naive_pinball
    FROM ranked AS r
    JOIN scored AS nv
        ON nv.ticker = r.ticker AND nv.horizon = r.horizon AND nv.as_of = r.as_of
        AND nv.target_date = r.target_date AND nv.model = 'naive'
    WHERE r.k <= 60
    GROUP BY r.ticker, r.model, r.horizon
),
candidates AS (
    SELECT
        ticker, model, horizon, n, pinball, naive_pinball,
        row_number() OVER (
            PARTITION BY ticker, horizon
            ORDER BY CASE WHEN model = 'naive' THEN 1.0 ELSE pinball / naive_pinball END,
                     CASE WHEN model = 'naive' THEN 0 ELSE 1 END, model
        ) AS place
    FROM recent
    WHERE model = 'naive' OR (n >= 20 AND pinball < naive_pinball)
),
pairs AS (SELECT DISTINCT ticker, horizon FROM forecasts)
SELECT
    p.ticker,
    p.horizon,
    coalesce(c.model, 'naive') AS model,
    coalesce(c.n, 0) AS n,
    c.pinball,
    c.naive_pinball,
    c.pinball / c.naive_pinball AS rel_pinball
FROM pairs AS p
LEFT JOIN candidates AS c ON c.ticker = p.ticker AND c.horizon = p.horizon AND c.place = 1
"""


def upgrade() -> None:
    # Plain ALTER TABLE (see 0008): batch mode would copy `forecasts`, which its views read.
    for name in (*QUANTILE_COLUMNS, *INTERVAL_COLUMNS):
        op.add_column("forecasts", sa.Column(name, sa.Float(), nullable=True))
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
    op.execute("DROP VIEW IF EXISTS v_forecasts")
    op.execute(V_FORECASTS)
    op.execute(V_LATEST_FORECASTS)
    op.execute(V_INTERVAL_WINDOWS)
    op.execute(V_CHAMPION)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_champion")
    op.execute("DROP VIEW IF EXISTS v_interval_windows")
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
    op.execute("DROP VIEW IF EXISTS v_forecasts")
    op.execute(V_FORECASTS_0009)
    op.execute(V_LATEST_FORECASTS)
    for name in reversed((*QUANTILE_COLUMNS, *INTERVAL_COLUMNS)):
        op.drop_column("forecasts", name)
