"""latest_as_of: the newest as-of per (ticker, model), kept by triggers; v_latest_forecasts on it.

Grouping all forecasts to find each (ticker, model)'s newest as-of costs ~130 ms over the whole
view at a million rows; a 2-column summary kept current on every insert makes the whole view a
handful of index seeks per (ticker, model).

SQLite and PostgreSQL each get their own triggers (SQLite's are unchanged since this revision
first shipped); nothing else in the migrations differs between the two. PostgreSQL's are
statement-level over transition tables: one summary upsert per INSERT statement, however many
rows it writes, where SQLite (no statement-level triggers) fires per row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Forecasts are only inserted or replaced in place (their as_of never changes); a delete
# (by hand) recomputes that pair from what is left.
TRIGGERS = [
    """
    CREATE TRIGGER trg_forecasts_latest_insert AFTER INSERT ON forecasts
    BEGIN
        INSERT INTO latest_as_of (ticker, model, as_of) VALUES (NEW.ticker, NEW.model, NEW.as_of)
        ON CONFLICT (ticker, model) DO UPDATE SET as_of = max(as_of, excluded.as_of);
    END
    """,
    """
    CREATE TRIGGER trg_forecasts_latest_delete AFTER DELETE ON forecasts
    BEGIN
        DELETE FROM latest_as_of WHERE ticker = OLD.ticker AND model = OLD.model;
        INSERT INTO latest_as_of (ticker, model, as_of)
            SELECT ticker, model, max(as_of) FROM forecasts
            WHERE ticker = OLD.ticker AND model = OLD.model
            GROUP BY ticker, model;
    END
    """,
]

# The same rules in plpgsql. An AFTER INSERT trigger's transition table holds only the rows the
# statement really inserted (an upsert's updated rows go to UPDATE triggers, and as_of never
# changes on update), so it plays the part of SQLite's per-row NEW.
PG_TRIGGERS = [
    """
    CREATE FUNCTION latest_as_of_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO latest_as_of AS l (ticker, model, as_of)
            SELECT ticker, model, max(as_of) FROM inserted GROUP BY ticker, model
        ON CONFLICT (ticker, model) DO UPDATE SET as_of = greatest(l.as_of, excluded.as_of);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER trg_forecasts_latest_insert AFTER INSERT ON forecasts
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION latest_as_of_after_insert()
    """,
    """
    CREATE FUNCTION latest_as_of_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM latest_as_of AS l USING deleted AS d WHERE l.ticker = d.ticker AND l.model = d.model;
        INSERT INTO latest_as_of (ticker, model, as_of)
            SELECT f.ticker, f.model, max(f.as_of) FROM forecasts AS f
            WHERE (f.ticker, f.model) IN (SELECT ticker, model FROM deleted)
            GROUP BY f.ticker, f.model;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER trg_forecasts_latest_delete AFTER DELETE ON forecasts
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION latest_as_of_after_delete()
    """,
]
PG_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS trg_forecasts_latest_delete ON forecasts",
    "DROP TRIGGER IF EXISTS trg_forecasts_latest_insert ON forecasts",
    "DROP FUNCTION IF EXISTS latest_as_of_after_delete()",
    "DROP FUNCTION IF EXISTS latest_as_of_after_insert()",
]
SQLITE_DROP_TRIGGERS = [
    "DROP TRIGGER IF EXISTS trg_forecasts_latest_delete",
    "DROP TRIGGER IF EXISTS trg_forecasts_latest_insert",
]

# CROSS JOIN makes SQLite loop over the small summary first and seek into forecasts by its
# natural-key index; with a plain JOIN the planner may scan forecasts instead.
V_LATEST_FORECASTS = """
CREATE VIEW v_latest_forecasts AS
SELECT v.*
FROM latest_as_of AS latest
CROSS JOIN v_forecasts AS v
WHERE v.ticker = latest.ticker AND v.model = latest.model AND v.as_of = latest.as_of
"""

# The 0006 definition, restored on downgrade.
V_LATEST_FORECASTS_0006 = """
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


def upgrade() -> None:
    op.create_table(
        "latest_as_of",
        sa.Column("ticker", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("ticker", "model", name=op.f("pk_latest_as_of")),
    )
    op.execute(
        "INSERT INTO latest_as_of (ticker, model, as_of) "
        "SELECT ticker, model, max(as_of) FROM forecasts GROUP BY ticker, model"
    )
    for trigger in PG_TRIGGERS if _postgresql() else TRIGGERS:
        op.execute(trigger)
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
    op.execute(V_LATEST_FORECASTS)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_latest_forecasts")
    op.execute(V_LATEST_FORECASTS_0006)
    for statement in PG_DROP_TRIGGERS if _postgresql() else SQLITE_DROP_TRIGGERS:
        op.execute(statement)
    op.drop_table("latest_as_of")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"
