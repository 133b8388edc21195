"""The one atomic writer: whole files or none, readable by others, no temporary left behind."""

import hashlib
import os
import stat
from pathlib import Path

import pytest

from forecaster.storage.files import write_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_files_are_0644_and_folders_0755(tmp_path: Path):
    path = tmp_path / "a" / "b" / "index.html"
    sha = write_atomic(path, b"<html></html>")
    assert path.read_bytes() == b"<html></html>" and sha == hashlib.sha256(b"<html></html>").hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert sorted(p.name for p in path.parent.iterdir()) == ["index.html"]


def test_a_stricter_umask_is_honoured(tmp_path: Path):
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "private.png", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.png").stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "models" / "model.keras"
    write_atomic(path, b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["model.keras"]
