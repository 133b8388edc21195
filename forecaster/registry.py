"""Model versions: `.keras` files under <data_dir>/models, and their rows.

A version is immutable: fine-tuning makes a child version (parent_id) with a new file. The file's
sha256 is checked on every load; a mismatch or an unreadable file raises `ModelFileError`, and
the routine then retrains instead of forecasting with a model it cannot trust.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import keras
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.modelfiles import load_model, save_model
from forecaster.scaling import Scaler, scaler_from_params
from forecaster.schema import ModelVersion
from forecaster.spec import ModelSpec, TrainSpec
from forecaster.training import Fitted


@dataclass(frozen=True)
class SavedFile:
    relpath: str  # relative to the data dir, so the data dir can move
    sha256: str


def save_file(data_dir: Path, ticker: str, kind: str, as_of: date, model: keras.Model) -> SavedFile:
    """Write the model file (atomically) before its row exists: a crash in between leaves an
    unreferenced file, never a row pointing at a missing or half-written one."""
    relpath = Path("models") / ticker / kind / f"{as_of.isoformat()}-{uuid.uuid4().hex[:8]}.keras"
    sha = save_model(model, data_dir / relpath)
    return SavedFile(relpath.as_posix(), sha)


def add_version(
    session: Session,
    *,
    ticker: str,
    spec: ModelSpec,
    train: TrainSpec,
    fitted: Fitted,
    saved: SavedFile,
    as_of: date,
    action: str,
    parent_id: int | None,
    now: datetime,
) -> ModelVersion:
    version = ModelVersion(
        ticker=ticker,
        kind=spec.kind,
        parent_id=parent_id,
        action=action,
        as_of=as_of,
        train_start=fitted.train_start,
        train_end=fitted.train_end,
        path=saved.relpath,
        sha256=saved.sha256,
        spec=spec.to_json(),
        training=train.to_json(),
        scaler=json.dumps(fitted.scaler.params(), sort_keys=True),
        seed=train.seed,
        epochs_run=fitted.epochs_run,
        train_loss=fitted.train_loss,
        val_loss=fitted.val_loss,
        train_seconds=fitted.seconds,
        created_at=now,
    )
    session.add(version)
    session.flush()  # assigns the id
    return version


def latest_version(session: Session, ticker: str, kind: str, as_of: date) -> ModelVersion | None:
    """The newest version trained with data up to `as_of` at most (never a later one: a
    backfill replaying an earlier day must not use a model that has seen its future)."""
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.ticker == ticker, ModelVersion.kind == kind, ModelVersion.as_of <= as_of)
        .order_by(ModelVersion.as_of.desc(), ModelVersion.id.desc())
        .limit(1)
    ).first()


def load_version(version: ModelVersion, data_dir: Path) -> tuple[keras.Model, Scaler, ModelSpec]:
    model = load_model(data_dir / version.path, expected_sha256=version.sha256)
    return model, scaler_from_params(json.loads(version.scaler)), ModelSpec.from_json(version.spec)
