"""Retention: a daily job that runs for years keeps a bounded number of model files and plots.

Per line of versions (training universe, kind) the `FORECASTER_KEEP_MODEL_VERSIONS` newest versions keep their file (the
newest is the current one, which the next fine-tune starts from); an older version's file is
removed and its row stays, marked pruned with the time, so every forecast still cites the
version that made it. Daily plots older than `FORECASTER_KEEP_PLOT_DAYS` before their ticker's
newest are removed with their rows (nothing cites a plot).

Only a holder of the run lock prunes: the routine at the end of its run, or `forecaster prune`,
which takes the lock itself. So no running process can be reading a file that goes. A row is
marked (or deleted) before its file is removed: a crash in between leaves a file too many, which
the next prune removes, never a row that points at a missing file.
"""

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.storage.db import transaction
from forecaster.storage.retention import (
    delete_plots,
    mark_pruned,
    plots_past_keeping,
    pruned_versions,
    versions_past_keeping,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Removal:
    what: str  # model | plot
    ticker: str
    label: str  # the model kind and version, or the plot's kind and day
    path: str  # relative to the data dir
    bytes: int  # the file's size (0 when it was missing already)


@dataclass
class PruneReport:
    dry_run: bool
    removals: list[Removal] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removals)

    def summary(self) -> str:
        models = sum(1 for r in self.removals if r.what == "model")
        verb = "would remove" if self.dry_run else "removed"
        return f"{verb} {models} model file(s) and {len(self.removals) - models} plot(s), {self.bytes:,} bytes"


def prune(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    dry_run: bool = False,
    protect: Collection[int] = (),
    sweep: bool = False,
) -> PruneReport:
    """Apply both retention rules; the caller holds the run lock. `protect`: version ids a run
    still reads (a backfill's next day starts from the version its last day made or used).
    `sweep`: also remove files of versions pruned earlier whose removal was cut short (every
    pruned row is looked at, so only on demand, not after every run)."""
    report = PruneReport(dry_run)
    now = clock.now()
    with transaction(factory) as session:
        versions = versions_past_keeping(session, settings.keep_model_versions, protect=protect)
        plots = plots_past_keeping(session, settings.keep_plot_days)
        report.removals += [
            _removal(settings.data_dir, "model", v.ticker, f"{v.kind} v{v.id} ({v.as_of})", v.path) for v in versions
        ]
        report.removals += [_removal(settings.data_dir, "plot", p.ticker, f"{p.kind} {p.as_of}", p.path) for p in plots]
        if dry_run:
            return report
        mark_pruned(session, [v.id for v in versions], now=now)
        delete_plots(session, [p.id for p in plots])
        leftovers = [v.path for v in pruned_versions(session)] if sweep else []
    for path in {*leftovers, *(r.path for r in report.removals)}:
        (settings.data_dir / path).unlink(missing_ok=True)
    if report.removals:
        log.info("retention: %s", report.summary())
    return report


def prune_after_run(settings: Settings, factory: sessionmaker[Session], used: Collection[int]) -> None:
    """Retention at the end of a run, keeping the versions it used; a full or read-only disk
    here is a warning, never the run's failure (its forecasts are stored)."""
    try:
        prune(settings, factory, protect=used)
    except OSError as exc:
        log.warning("retention skipped: %s", exc)


def _removal(data_dir: Path, what: str, ticker: str, label: str, path: str) -> Removal:
    file = data_dir / path
    size = file.stat().st_size if file.is_file() else 0
    return Removal(what, ticker, label, path, size)
