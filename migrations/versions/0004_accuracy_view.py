"""The v_accuracy view: accuracy per (ticker, model, horizon) over all matured forecasts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# hit_rate: a product > 0 means predicted and actual moves from the as-of close agree; ties
# (either move zero) give NULL, which avg() leaves out. MASE needs the training-window scale
# and is computed by `forecaster evaluate`, not here.
V_ACCURACY = """
CREATE VIEW v_accuracy AS
SELECT
    ticker,
    model,
    horizon,
    count(*) AS n,
    min(target_date) AS first_target,
    max(target_date) AS last_target,
    avg(abs(yhat - actual)) AS mae,
    sqrt(avg((yhat - actual) * (yhat - actual))) AS rmse,
    100.0 * avg(abs((yhat - actual) / actual)) AS mape,
    avg(
        CASE
            WHEN (yhat - last_close) * (actual - last_close) > 0 THEN 1.0
            WHEN (yhat - last_close) * (actual - last_close) < 0 THEN 0.0
        END
    ) AS hit_rate
FROM forecasts
WHERE actual IS NOT NULL
GROUP BY ticker, model, horizon
"""


def upgrade() -> None:
    op.execute(V_ACCURACY)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_accuracy")
