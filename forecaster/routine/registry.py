"""Model versions: `.keras` files under <data_dir>/models, and their rows.

A version is immutable: fine-tuning makes a child version (parent_id) with a new file. The file's
sha256 is checked on every load (by the task that loads it, wherever it runs); a mismatch or an
unreadable file raises `ModelFileError`, and the routine then retrains instead of forecasting
with a model it cannot trust. Only the driver reads and writes these files and rows: tasks get
and return the files' bytes.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from forecaster.errors import ModelFileError
from forecaster.model.files import read_model_file
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.routine.tasks import ParentModel, TrainedModel
from forecaster.storage.files import write_atomic
from forecaster.storage.schema import ModelVersion


@dataclass(frozen=True)
class SavedFile:
    relpath: str  # relative to the data dir, so the data dir can move
    sha256: str


def save_file(data_dir: Path, ticker: str, as_of: date, trained: TrainedModel) -> SavedFile:
    """Write the model file (atomically) before its row exists: a crash in between leaves an
    unreferenced file, never a row pointing at a missing or half-written one."""
    if hashlib.sha256(trained.data).hexdigest() != trained.sha256:  # changed on its way from the task
        raise ModelFileError(f"the model file of {ticker} {trained.spec.kind} arrived damaged (sha256 mismatch)")
    kind = trained.spec.kind
    relpath = Path("models") / ticker / kind / f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}.keras"
    return SavedFile(relpath.as_posix(), write_atomic(data_dir / relpath, trained.data))


def add_version(
    session: Session,
    *,
    ticker: str,
    trained: TrainedModel,
    train: TrainSpec,
    saved: SavedFile,
    as_of: date,
    now: datetime,
) -> ModelVersion:
    version = ModelVersion(
        ticker=ticker,
        kind=trained.spec.kind,
        parent_id=trained.parent_id,
        action=trained.action,
        as_of=as_of,
        train_start=trained.stats.train_start,
        train_end=trained.stats.train_end,
        path=saved.relpath,
        sha256=saved.sha256,
        spec=trained.spec.to_json(),
        training=train.to_json(),
        scaler=json.dumps(trained.scaler, sort_keys=True),
        seed=train.seed,
        epochs_run=trained.stats.epochs_run,
        train_loss=trained.stats.train_loss,
        val_loss=trained.stats.val_loss,
        train_seconds=trained.stats.seconds,
        created_at=now,
    )
    session.add(version)
    session.flush()  # assigns the id
    return version


def read_parent(version: ModelVersion, data_dir: Path) -> ParentModel:
    """What a task needs to fine-tune or reuse `version`; a missing file raises ModelFileError
    (the bytes' sha256 is checked by the task, after they have travelled)."""
    if version.pruned_at is not None:  # a backfill replaying days before the kept versions
        raise ModelFileError(f"model file {version.path} was removed by retention on {version.pruned_at:%Y-%m-%d}")
    return ParentModel(
        version_id=version.id,
        path=version.path,
        data=read_model_file(data_dir / version.path),
        sha256=version.sha256,
        scaler=json.loads(version.scaler),
        spec=ModelSpec.from_json(version.spec),
    )
