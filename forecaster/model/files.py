"""Model files: a model as the bytes of its `.keras` file, and back, sha256 checked on every read.

Writing the bytes is storage's (`storage.files.write_atomic`, the one atomic writer).

The registry records a file's sha256 when it is written; `load_model` / `model_from_bytes`
refuse bytes that no longer match (edited, truncated, swapped, damaged in transit), or that Keras
cannot read, with `ModelFileError`. The hash matters: a `.keras` file is a zip whose directory
sits at the end, so damage to its first bytes can still load, silently, as a model. Models travel
between the driver and the workers as the bytes of their file (`model_bytes`), so a worker needs
no access to the data dir.

A trained version's file also holds the Adam state its fit ended with (model/trainers says why
a fine-tune continues it), as one more member of the zip, `adam.npz`: Keras reads only its own
members, so the file loads as any `.keras` file does, and the state is covered by the same
sha256, travels in the same bytes and is removed with the same file by retention. A file
without it (written before, or by `forecaster train-letters`) fine-tunes from a fresh Adam.
"""

import hashlib
import io
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np

from forecaster.errors import ModelFileError
from forecaster.model.trainers import AdamState

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


_ADAM_MEMBER = "adam.npz"


def model_bytes(model: keras.Model, adam: AdamState | None = None) -> bytes:
    """The `.keras` file of `model`, as bytes, with `adam` as its Adam state when given: what a
    worker sends back to the driver."""
    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        if adam is not None:
            arrays = io.BytesIO()
            np.savez(arrays, *adam)  # arr_0, arr_1, ... in the optimizer's order
            with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(_ADAM_MEMBER, arrays.getvalue())
        return path.read_bytes()


def adam_from_bytes(data: bytes, *, name: str) -> AdamState | None:
    """The Adam state stored in a `.keras` file's bytes (already sha256-checked by the caller), or
    None for a file without one; damage inside raises ModelFileError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if _ADAM_MEMBER not in archive.namelist():
                return None
            with np.load(io.BytesIO(archive.read(_ADAM_MEMBER)), allow_pickle=False) as arrays:
                return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    except _UNREADABLE as exc:
        raise ModelFileError(f"the Adam state in model file {name} is damaged ({exc})") from exc


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
    with _checked_file(data, expected_sha256, name) as path:
        model = keras.saving.load_model(path, compile=False)
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"model file {name} does not hold a Keras model")
    return model


def weights_from_bytes(model: keras.Model, data: bytes, expected_sha256: str | None, *, name: str) -> None:
    """Load the weights of a `.keras` file's bytes into `model`, a network of the same shape (a
    third of the time of building the file's model anew, and no new model object). Checked like
    `model_from_bytes`; weights of another shape raise ModelFileError too."""
    with _checked_file(data, expected_sha256, name) as path:
        model.load_weights(path)


@contextmanager
def _checked_file(data: bytes, expected_sha256: str | None, name: str) -> Iterator[Path]:
    """The bytes as a temporary `.keras` file (Keras reads files only, and wants the suffix),
    after the sha256 check; what Keras raises for damage inside becomes ModelFileError."""
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ModelFileError(
                f"model file {name} has sha256 {actual[:12]}…, not the recorded {expected_sha256[:12]}… "
                "(changed or damaged since it was saved)"
            )
    with tempfile.TemporaryDirectory(prefix="forecaster-model-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        try:
            yield path
        except _UNREADABLE as exc:
            # Keras says "File not found" for a truncated zip; name the real problem instead.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"model file {name} is damaged or not a Keras model file ({reason})") from exc
