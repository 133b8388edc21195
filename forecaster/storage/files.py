"""The one atomic file writer, for everything the product leaves in the data dir: model files,
plots, the HTML report.

A file is written under a fresh name in its folder, synced, then renamed over the target: a
crash or a full disk leaves the old file or none, never half of one, and a reader (a browser, a
web server, a worker loading a model) never sees a partial file. Files are created 0644 and
folders 0755 (less what the umask takes away), so a web server running as another user can serve
the report: `tempfile.mkstemp` would have made them 0600.
"""

import hashlib
import os
import uuid
from pathlib import Path

FILE_MODE = 0o644
DIR_MODE = 0o755


def make_dirs(folder: Path) -> None:
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def write_atomic(path: Path, data: bytes) -> str:
    """Write `data` to `path` atomically; returns its sha256 (the registry records it)."""
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()
