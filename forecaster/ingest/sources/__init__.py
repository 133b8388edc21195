"""Where bars come from: a small `BarSource` protocol and the choice between sources."""

from pathlib import Path

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.ingest.sources.base import BAR_COLUMNS, FACTOR_COLUMNS, BarSource, Fetched, SourceKind

__all__ = ["BAR_COLUMNS", "FACTOR_COLUMNS", "BarSource", "Fetched", "SourceKind", "make_source"]


def make_source(kind: SourceKind, settings: Settings, csv_path: Path | None = None) -> BarSource:
    """The source to use; `auto` is tushare when a token is set, else FORECASTER_CSV_PATH or the
    bundled market (data/market)."""
    from forecaster.ingest.sources.csvfile import CsvSource
    from forecaster.ingest.sources.tushare_pro import TushareSource

    if kind == "csv" or (kind == "auto" and csv_path is not None):
        return CsvSource(csv_path or settings.offline_source, settings.csv_volume_unit)
    token = settings.token()
    if kind == "tushare":
        if token is None:
            raise ConfigError("no tushare token: set TUSHARE_TOKEN or FORECASTER_TUSHARE_TOKEN")
        return TushareSource.from_settings(settings)
    if token is not None:
        return TushareSource.from_settings(settings)
    source = CsvSource(settings.offline_source, settings.csv_volume_unit)
    source.description += " (no tushare token set)"
    return source
