"""Model files: atomic `.keras` writes, sha256 on every read.

The registry records a file's sha256 when it is written; `load_model` refuses a file whose bytes
no longer match (edited, truncated, swapped), or that Keras cannot read, with `ModelFileError`.
"""

import hashlib
import os
import tempfile
from pathlib import Path

import keras

from forecaster.errors import ModelFileError

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: keras.Model, path: Path) -> str:
    """Write `model` to `path` (a `.keras` file) atomically; returns the file's sha256.

    Written to a temporary file in the same folder, then renamed over `path`: a crash or a full
    disk leaves either the old file or none, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".keras", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        model.save(tmp)
        sha = file_sha256(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sha


def load_model(path: Path, expected_sha256: str | None = None) -> keras.Model:
    """Load a `.keras` file, checking its sha256 first when one is given."""
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
    except Exception as exc:  # Keras raises many types for a damaged zip/h5/json
        raise ModelFileError(f"model file {path} cannot be read: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"model file {path} does not hold a Keras model")
    return model
