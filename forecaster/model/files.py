"""Model files: atomic `.keras` writes, sha256 on every read.

The registry records a file's sha256 when it is written; `load_model` / `model_from_bytes`
refuse bytes that no longer match (edited, truncated, swapped, damaged in transit), or that Keras
cannot read, with `ModelFileError`. The hash matters: a `.keras` file is a zip whose directory
sits at the end, so damage to its first bytes can still load, silently, as a model. Models travel
between the driver and the workers as the bytes of their file (`model_bytes`), so a worker needs
no access to the data dir.
"""

import hashlib
import os
import tempfile
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


def model_bytes(model: keras.Model) -> bytes:
    """The `.keras` file of `model`, as bytes: what a worker sends back to the driver."""
    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def write_atomic(path: Path, data: bytes) -> str:
    """Write `data` to `path` atomically; returns its sha256.

    Written to a temporary file in the same folder, synced, then renamed over `path`: a crash or
    a full disk leaves either the old file or none, never half of one.
    """
    if path.suffix != ".keras":
        raise ModelFileError(f"model file {path} must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than mkstemp(), whose 0600 mode would lock out other readers (a daemon
    # running as another user); open() creates the file, so the umask applies as usual.
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:12]}.keras")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def save_model(model: keras.Model, path: Path) -> str:
    """Write `model` to `path` (a `.keras` file) atomically; returns the file's sha256."""
    if path.suffix != ".keras":  # before the model is serialised: a usage error costs nothing
        raise ModelFileError(f"model file {path} must end in .keras")
    return write_atomic(path, model_bytes(model))


def read_model_file(path: Path) -> bytes:
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing")
    return path.read_bytes()


def load_model(path: Path, expected_sha256: str | None = None) -> keras.Model:
    """Load a `.keras` file (uncompiled), checking its sha256 first when one is given."""
    return model_from_bytes(read_model_file(path), expected_sha256, name=str(path))


def model_from_bytes(data: bytes, expected_sha256: str | None, *, name: str) -> keras.Model:
    """A model from the bytes of its `.keras` file (`name` says which file, in errors): the sha256
    is checked first when one is given, so damage in storage or in transit is refused."""
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ModelFileError(
                f"model file {name} has sha256 {actual[:12]}…, not the recorded {expected_sha256[:12]}… "
                "(changed or damaged since it was saved)"
            )
    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as folder:
        path = Path(folder) / "model.keras"  # Keras reads files only, and wants the suffix
        path.write_bytes(data)
        try:
            model = keras.saving.load_model(path, compile=False)
        except _UNREADABLE as exc:
            # Keras says "File not found" for a truncated zip; name the real problem instead.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"model file {name} is damaged or not a Keras model file ({reason})") from exc
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"model file {name} does not hold a Keras model")
    return model
