"""Model files: atomic `.keras` writes, sha256 on every read.

The registry records a file's sha256 when it is written; `load_model` refuses a file whose bytes
no longer match (edited, truncated, swapped), or that Keras cannot read, with `ModelFileError`.
The hash matters: a `.keras` file is a zip whose directory sits at the end, so damage to its
first bytes can still load, silently, as a model.
"""

import hashlib
import os
import uuid
import zipfile
from pathlib import Path

import keras

from forecaster.errors import ModelFileError

_CHUNK = 1 << 20

# What Keras raises for a damaged file, as measured on Keras 3: not a zip / truncated
# (ValueError, zipfile.BadZipFile), garbled config.json (ValueError, TypeError), a missing
# archive member (KeyError), garbled weights (OSError from h5py). Anything else is a bug.
_UNREADABLE = (ValueError, TypeError, KeyError, OSError, EOFError, zipfile.BadZipFile)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: keras.Model, path: Path) -> str:
    """Write `model` to `path` (a `.keras` file) atomically; returns the file's sha256.

    Written to a temporary file in the same folder, synced, then renamed over `path`: a crash or
    a full disk leaves either the old file or none, never half of one.
    """
    if path.suffix != ".keras":
        raise ModelFileError(f"model file {path} must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than mkstemp(), whose 0600 mode would lock out other readers (a daemon
    # running as another user); Keras creates the file, so the umask applies as usual.
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:12]}.keras")
    try:
        model.save(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        sha = file_sha256(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sha


def load_model(path: Path, expected_sha256: str | None = None) -> keras.Model:
    """Load a `.keras` file (uncompiled), checking its sha256 first when one is given."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing")
    if expected_sha256 is not None:
        actual = file_sha256(path)
        if actual != expected_sha256:
            raise ModelFileError(
                f"model file {path} has sha256 {actual[:12]}…, not the recorded {expected_sha256[:12]}… "
                "(changed or damaged since it was saved)"
            )
    try:
        model = keras.saving.load_model(path, compile=False)
    except _UNREADABLE as exc:
        # Keras says "File not found" for a truncated zip; name the real problem instead.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(f"model file {path} is damaged or not a Keras model file ({reason})") from exc
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"model file {path} does not hold a Keras model")
    return model
