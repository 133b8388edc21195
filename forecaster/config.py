"""One typed settings object, read from the environment and an optional TOML file.

Precedence: explicit arguments > environment (`FORECASTER_*`, `TUSHARE_TOKEN`) > TOML file >
defaults. The CLI loads it once and passes it down; nothing reads settings at import time.
"""

import difflib
import logging
import os
import tomllib
from dataclasses import fields, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from forecaster.errors import ConfigError
from forecaster.market.tickers import normalize_ticker, read_tickers_file
from forecaster.model.spec import (
    HORIZON_MAX,
    MEMBERS_MAX,
    MODEL_KINDS,
    WINDOW_MIN,
    Between,
    Feature,
    ModelKind,
    ModelSpec,
    Scaling,
    Target,
    TrainSpec,
)

DEFAULT_CONFIG_FILE = Path("forecaster.toml")
TUSHARE_URL = "http://api.waditu.com/dataapi"
# The course file; the offline default's market (it and a few more tickers) and training universe.
BUNDLED_CSV = Path(__file__).resolve().parent.parent / "data" / "SH600519.csv"
BUNDLED_MARKET, BUNDLED_UNIVERSE = BUNDLED_CSV.parent / "market", BUNDLED_CSV.parent / "universe.txt"
# FORECASTER_* variables that are not settings fields: the file's name, and the tests' server.
NOT_FIELDS = frozenset({"FORECASTER_CONFIG", "FORECASTER_TEST_PG_URL"})
_MODEL, _TRAIN = ModelSpec(kind="rnn"), TrainSpec()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORECASTER_", extra="ignore")

    data_dir: Path = Path("data")
    # None: `sqlite:///<data_dir>/forecaster.db`; a postgresql+psycopg:// URL shares one between machines.
    database_url: str | None = None
    tushare_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("FORECASTER_TUSHARE_TOKEN", "TUSHARE_TOKEN", "tushare_token"),
    )
    tushare_api_url: str = TUSHARE_URL
    tushare_timeout_s: float = Field(default=30.0, gt=0)
    # Retries (timeouts, dropped connections, rate limits, empty answers): backoff from base, total capped.
    tushare_retry_base_s: float = Field(default=2.0, ge=0)
    tushare_retry_total_s: float = Field(default=120.0, ge=0)
    tickers: Annotated[list[str], NoDecode] = ["600519.SH"]
    # More codes the networks train over (unset: the bundled universe offline, else none).
    universe: Annotated[list[str] | None, NoDecode] = None
    csv_path: Path | None = None
    csv_volume_unit: Literal["auto", "shares", "lots"] = "auto"
    history_start: date = date(2010, 1, 1)
    # Incremental ingest re-reads this many trading days before the last stored bar (revisions).
    ingest_overlap_days: int = Field(default=5, ge=0)
    timezone: str = "Asia/Shanghai"
    # Trading days by hand (CSV `date,open`), stronger than any source (forecaster.market.override).
    calendar_file: Path | None = None

    # Models: defaults come from the spec dataclasses (see forecaster.model.spec for what each means).
    models: Annotated[list[ModelKind], NoDecode] = list(MODEL_KINDS)
    window: int = Field(default=_MODEL.window, ge=WINDOW_MIN)
    horizon: int = Field(default=_MODEL.horizon, ge=1, le=HORIZON_MAX)
    target: Target = _MODEL.target
    features: Annotated[list[Feature], NoDecode] = list(_MODEL.features)
    scaling: Scaling = _MODEL.scaling
    units: Annotated[list[int], NoDecode] = list(_MODEL.units)
    dropout: float = Field(default=_MODEL.dropout, ge=0, lt=1)
    members: int = Field(default=_MODEL.members, ge=1, le=MEMBERS_MAX)
    max_epochs: int = Field(default=_TRAIN.max_epochs, ge=1)
    batch_size: int = Field(default=_TRAIN.batch_size, ge=1)
    learning_rate: float = Field(default=_TRAIN.learning_rate, gt=0)
    patience: int = Field(default=_TRAIN.patience, ge=1)
    val_fraction: float = Field(default=_TRAIN.val_fraction, gt=0, lt=0.5)
    seed: int = _TRAIN.seed
    finetune_epochs: int = Field(default=_TRAIN.finetune_epochs, ge=1)
    finetune_learning_rate: float = Field(default=_TRAIN.finetune_learning_rate, gt=0)
    finetune_days: int = Field(default=_TRAIN.finetune_days, ge=20)
    epoch_windows: int = Field(default=_TRAIN.epoch_windows, ge=0)  # 0: every training window each epoch
    # Retrain when `retrain_every` trading days old or drifting; in between, predict or fine-tune (docs/models.md).
    retrain_every: int = Field(default=20, ge=1)
    between_retrains: Between = "predict"
    drift_window: int = Field(default=20, ge=5)
    drift_threshold: float = Field(default=1.5, gt=0)

    # Daemon (jobs/README.md): 5-field crontab lines, in `scheduler_timezone` (default: `timezone`).
    schedule: str = "30 17 * * 1-5"
    retrain_schedule: str = "0 9 * * 6"
    scheduler_timezone: str | None = None
    # APScheduler 3's default grace is 1 s: a daemon busy or down at 17:30 would skip the day.
    misfire_grace_s: int = Field(default=6 * 3600, ge=1)
    late_retry_minutes: float = Field(default=30, gt=0)
    late_retries: int = Field(default=4, ge=0)
    # How long a second process waits for the run lock (the CLI: not at all; a daemon job: then `skipped`).
    lock_wait_s: float = Field(default=0, ge=0)
    job_lock_wait_s: float = Field(default=1800, ge=0)
    log_format: Literal["text", "json"] = "text"

    # Many tickers: a tickers file; tushare calls a minute at most; by-date ingest from this many tickers.
    tickers_file: Path | None = None
    tushare_calls_per_minute: int = Field(default=200, ge=1)
    batch_ingest_from: int = Field(default=30, ge=1)
    # Where each kind's task runs: here, or on Dask (`dask_address`, unset: this machine's cores).
    executor: Literal["local", "dask"] = "local"
    # The local executor's threads (routine/executor.ThreadExecutor; memory vs time: docs/performance.md).
    local_threads: int = Field(default=1, ge=1, le=64)
    dask_address: str | None = None
    dask_retries: int = Field(default=1, ge=0)
    dask_connect_timeout_s: float = Field(default=10.0, gt=0)

    # Retention (routine/retention): model files kept per line of versions, days of plots per ticker.
    keep_model_versions: int = Field(default=5, ge=1)
    keep_plot_days: int = Field(default=60, ge=1)
    stale_run_minutes: int = Field(default=120, ge=1)
    health_min_free_gb: float = Field(default=2.0, ge=0)

    @field_validator("tickers", "universe", mode="before")
    @classmethod
    def _split_tickers(cls, value: Any) -> Any:
        if isinstance(value, str | Path) and not {",", ";"} & set(str(value)) and Path(value).is_file():
            return read_tickers_file(Path(value))  # one name, no list: a file of codes
        if isinstance(value, str):
            value = [part for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("models", "features", "units", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("models")
    @classmethod
    def _each_model_once(cls, value: list[ModelKind]) -> list[ModelKind]:
        return list(dict.fromkeys(value))  # empty is allowed: the baselines only

    @field_validator("units")
    @classmethod
    def _two_layers(cls, value: list[int]) -> list[int]:
        if len(value) != 2 or min(value) < 1:
            raise ValueError("units must be two positive sizes, e.g. 80,100")
        return value

    @field_validator("tickers", "universe")
    @classmethod
    def _normalize_tickers(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        if not value and info.field_name == "tickers":
            raise ValueError("at least one ticker is needed")
        return list(dict.fromkeys(normalize_ticker(v) for v in value))

    @model_validator(mode="after")
    def _tickers_from_file(self) -> "Settings":
        if self.tickers_file is not None:
            if "tickers" in self.model_fields_set:
                raise ConfigError("set FORECASTER_TICKERS or FORECASTER_TICKERS_FILE, not both")
            self.tickers = read_tickers_file(self.tickers_file)
        return self

    @model_validator(mode="after")
    def _specs_build(self) -> "Settings":
        # The spec's own checks at load time: every entry point refuses a bad combination at once.
        model_spec(self, MODEL_KINDS[0])
        return self

    def training_universe(self, tickers: list[str] | None = None) -> list[str]:
        """The tickers the networks train over: those run (default: the watch-list), then the universe's."""
        offline = self.csv_path is None and self.token() is None
        others = self.universe if self.universe is not None else read_tickers_file(BUNDLED_UNIVERSE) if offline else []
        return list(dict.fromkeys([*(self.tickers if tickers is None else tickers), *others]))

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'forecaster.db'}"

    @property
    def bundled_csv(self) -> Path:
        return self.csv_path or BUNDLED_CSV

    @property
    def offline_source(self) -> Path:
        """Where bars come from without a token: FORECASTER_CSV_PATH, else the bundled market."""
        return self.csv_path or BUNDLED_MARKET

    def token(self) -> str | None:
        """The tushare token in clear, for the client only — never log or store it."""
        value = self.tushare_token.get_secret_value().strip() if self.tushare_token is not None else ""
        return value or None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        # utf-8-sig: an editor's byte-order mark is not part of the first key.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    # Accept either top-level keys or a [forecaster] table.
    section = data.get("forecaster", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [forecaster] must be a table")
    # A misspelt key ignored would run at full size with every model: refuse it instead.
    if (key := next((k for k in section if k not in Settings.model_fields), None)) is not None:
        raise ConfigError(f"config file {path}: unknown setting {key!r}{_closest(key, list(Settings.model_fields))}")
    return section


def _closest(name: str, valid: list[str]) -> str:
    """`; did you mean 'x'?` for the nearest valid name, or nothing when none is near."""
    match = difflib.get_close_matches(name, valid, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def warn_unknown_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Warn (one log line each) about FORECASTER_* variables no setting reads; returns their names.
    Not an error: the environment is shared, and a variable may be meant for another version."""
    known = {f"FORECASTER_{name.upper()}" for name in Settings.model_fields} | NOT_FIELDS
    unknown = sorted(k for k in (os.environ if environ is None else environ) if k.startswith("FORECASTER_"))
    unknown = [k for k in unknown if k not in known]
    for name in unknown:
        logging.getLogger(__name__).warning("unknown variable %s ignored%s", name, _closest(name, sorted(known)))
    return unknown


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: `config_file`, else `$FORECASTER_CONFIG`, else ./forecaster.toml."""
    path = config_file
    if path is None and os.environ.get("FORECASTER_CONFIG"):
        path = Path(os.environ["FORECASTER_CONFIG"])
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    file_values = _read_toml(path) if path is not None else {}

    class _WithFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))

    try:
        return _WithFile(**overrides)
    except PydanticValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from exc


def _describe(error: Any) -> str:
    """One line naming the setting, its variable and the value refused (list positions dropped)."""
    where = ".".join(str(p) for p in error["loc"] if not isinstance(p, int)) or "settings"
    value = error.get("input")
    got = f" (got {value!r})" if isinstance(value, str | int | float) and where != "tushare_token" else ""
    return f"bad setting {where} (FORECASTER_{where.upper()}): {error['msg']}{got}"


def model_spec(settings: Settings, kind: ModelKind) -> ModelSpec:
    return ModelSpec(
        kind=kind,
        window=settings.window,
        horizon=settings.horizon,
        target=settings.target,
        features=tuple(settings.features),
        scaling=settings.scaling,
        units=(settings.units[0], settings.units[1]),
        dropout=settings.dropout,
        members=settings.members,
    )


def train_spec(settings: Settings, seed: int | None = None) -> TrainSpec:
    """Every TrainSpec field from the setting of the same name (a field without one fails here)."""
    spec = TrainSpec(**{f.name: getattr(settings, f.name) for f in fields(TrainSpec)})
    return spec if seed is None else replace(spec, seed=seed)
