"""The database: engine and migrations, the ORM schema, and every read and write (functions take a Session)."""

# The tables live in two modules on one metadata: importing the package registers both, so
# `Base.metadata` is whole wherever any storage module is used.
from forecaster.storage import schema_runs as schema_runs
