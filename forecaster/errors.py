"""The project's exception types.

Every error a user can cause or meet (bad input, bad settings, an unreachable source) is a
`ForecasterError`; the CLI prints those as one line and exits non-zero. Anything else is a bug
and keeps its traceback.
"""


class ForecasterError(Exception):
    """Base of every error the CLI reports as a one-line message."""


class ConfigError(ForecasterError):
    """Settings that cannot be used (unreadable TOML file, malformed value)."""


class DatabaseError(ForecasterError):
    """The database cannot be opened, is locked, or is at a schema this code does not know."""


class DatabaseMissing(DatabaseError):
    """No database where the settings point; commands that only read never create one."""


class SchemaMismatch(DatabaseError):
    """The database's schema is not this code's (older, for a command that does not migrate; or newer)."""


class ValidationError(ForecasterError):
    """A batch of bars failed validation; nothing of it was written."""


class SourceError(ForecasterError):
    """A data source failed: unreachable, refused, or answered something unusable."""


class AuthError(SourceError):
    """The data source refused the credentials (e.g. a wrong tushare token)."""


class RateLimitError(SourceError):
    """The data source asked us to slow down; retried with backoff before it surfaces."""


class RefusedError(SourceError):
    """The source answered, and refused the request itself (e.g. an API the account may not call)."""


class EmptyAnswerError(SourceError):
    """The source answered nothing for a range that should hold trading days."""


class ModelFileError(ForecasterError):
    """A model file is missing, damaged, or not what the registry recorded (sha256 mismatch)."""


class LockBusy(ForecasterError):
    """Another forecaster process holds the run lock of this database."""


class Interrupted(ForecasterError):
    """A stop was requested (SIGTERM / SIGINT); the work stopped between two steps."""

    run_id: int | None = None  # the routine's `runs` row, when one was open (set by the routine)
