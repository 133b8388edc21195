"""Options and parameter types several commands share, defined once so that their wording and
defaults stay the same."""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.model.kinds import BASELINES, ENSEMBLE, MODEL_KINDS, ModelKind, model_kinds


class DayType(click.ParamType[date]):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                return datetime.strptime(str(value), fmt).date()
            except ValueError:
                continue
        self.fail(f"{value!r} is not a date (use YYYY-MM-DD)", param, ctx)


DAY = DayType()

# Options several commands share, defined once so their wording and defaults stay the same.
TICKER_OPTION = click.option(
    "--ticker", "-t", multiple=True, help="ts_code such as 600519.SH; repeatable (default: FORECASTER_TICKERS)."
)
TICKERS_FILE_OPTION = click.option(
    "--tickers-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of ts_codes, one a line, # comments (a watch-list, an index); adds to --ticker.",
)


def tickers_from(ticker: Sequence[str], tickers_file: Path | None) -> list[str]:
    """The --ticker codes, then the --tickers-file ones, each once; [] when neither is given."""
    from forecaster.market.tickers import normalize_ticker, read_tickers_file

    codes = [normalize_ticker(t) for t in ticker]
    if tickers_file is not None:
        codes += read_tickers_file(tickers_file)
    return list(dict.fromkeys(codes))


MODELS_OPTION = click.option("--models", help="Comma-separated model kinds: rnn,lstm,gru (default: FORECASTER_MODELS).")
SEED_OPTION = click.option(
    "--seed", type=int, help="Training seed (default: FORECASTER_SEED); same seed and data, same forecast."
)


_F = TypeVar("_F", bound=Callable[..., Any])


def source_option(help_text: str) -> Callable[[_F], _F]:
    return click.option(
        "--source", type=click.Choice(["auto", "tushare", "csv"]), default="auto", show_default=True, help=help_text
    )


def parse_kinds(models: str | None, settings: Settings) -> tuple[ModelKind, ...]:
    """--models, else the settings' models (already checked when they loaded)."""
    if not models:
        return tuple(settings.models)
    try:
        return model_kinds(models.split(","))
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--models") from exc


FORMATS = click.Choice(["table", "csv", "json"])
FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=FORMATS,
    default="table",
    show_default=True,
    help="Output format (CSV and JSON for scripts).",
)


def _check_models(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> tuple[str, ...]:
    # A callback rather than click.Choice: repeatable, case-insensitive, one message for all.
    names = tuple(v.strip().lower() for v in value)
    unknown = [n for n in names if n not in (*MODEL_KINDS, ENSEMBLE, *BASELINES)]
    if unknown:
        known = ", ".join((*MODEL_KINDS, ENSEMBLE, *BASELINES))
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}; choose from {known}")
    return names


MODEL_FILTER_OPTION = click.option(
    "--model",
    "-m",
    multiple=True,
    callback=_check_models,
    help=f"Only this model's rows: {', '.join((*MODEL_KINDS, ENSEMBLE, *BASELINES))}; repeatable (default: all).",
)
