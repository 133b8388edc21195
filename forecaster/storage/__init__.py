"""The database: engine and migrations, the ORM schema, and every read and write (functions take a Session)."""
