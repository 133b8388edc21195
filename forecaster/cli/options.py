"""Options and parameter types several commands share, defined once so that their wording and
defaults stay the same."""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.model.spec import BASELINES, ENSEMBLE, MODEL_KINDS, ModelKind, model_kinds


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


def tickers_from(ticker: Sequence[str], tickers_file: Path | None, settings: Settings | None = None) -> list[str]:
    """The --ticker codes, then the --tickers-file ones, each once; [] when neither is given.
    With `settings`, a bare code the digits cannot place (`000300`) is looked up in the stored
    listings: one listing with that code names it."""
    from forecaster.market.tickers import is_ambiguous, normalize_ticker, read_tickers_file

    bare = [code for t in ticker if (code := is_ambiguous(t))]
    listed = _listed_as(settings, bare) if bare and settings is not None else []
    codes = [normalize_ticker(t, listed=listed) for t in ticker]
    if tickers_file is not None:
        codes += read_tickers_file(tickers_file)
    return list(dict.fromkeys(codes))


def _listed_as(settings: Settings, codes: list[str]) -> list[str]:
    """The stored listings with these codes; none when there is no database yet."""
    from sqlalchemy.exc import SQLAlchemyError

    from forecaster.cli.runtime import read_db
    from forecaster.errors import ForecasterError
    from forecaster.storage.db import session_factory
    from forecaster.storage.listings import codes_listed_as

    try:
        with session_factory(read_db(settings))() as session:
            return codes_listed_as(session, codes)
    except (ForecasterError, SQLAlchemyError):  # no database, or an older one: the code stays ambiguous
        return []


class AliasOption(click.Option):
    """An option whose old spellings (`aliases`) still parse, so scripts keep working, but are
    not shown in --help: one spelling is taught, the others are only understood."""

    def __init__(self, param_decls: Sequence[str], *, aliases: Sequence[str] = (), **attrs: Any) -> None:
        super().__init__([*param_decls, *aliases], **attrs)
        self.aliases = tuple(aliases)

    def get_error_hint(self, ctx: click.Context | None) -> str:
        return " / ".join(f"'{o}'" for o in self.opts if o not in self.aliases)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        every = self.opts
        self.opts = [o for o in every if o not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = every


def _split_models(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> tuple[str, ...] | None:
    """`--models a,b --models c` as (a, b, c); None when not given, () when given empty."""
    if not value:
        return None
    return tuple(dict.fromkeys(p.strip().lower() for v in value for p in v.split(",") if p.strip()))


MODELS_OPTION = click.option(
    "--models",
    multiple=True,
    callback=_split_models,
    help="Model kinds, comma-separated or repeated: rnn,lstm,gru (default: FORECASTER_MODELS; "
    "empty: the baselines only, as FORECASTER_MODELS= means).",
)
SEED_OPTION = click.option(
    "--seed", type=int, help="Training seed (default: FORECASTER_SEED); same seed and data, same forecast."
)


_F = TypeVar("_F", bound=Callable[..., Any])


def source_option(help_text: str) -> Callable[[_F], _F]:
    return click.option(
        "--source", type=click.Choice(["auto", "tushare", "csv"]), default="auto", show_default=True, help=help_text
    )


def parse_kinds(models: Sequence[str] | None, settings: Settings) -> tuple[ModelKind, ...]:
    """--models, else the settings' models (already checked when they loaded); () for the baselines only."""
    if models is None:
        return tuple(settings.models)
    if not models:  # `--models ''`: what an empty FORECASTER_MODELS means, no networks
        return ()
    try:
        return model_kinds(models)
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
    # A callback rather than click.Choice: comma-separated, repeatable, case-insensitive, one message for all.
    names = _split_models(ctx, param, value)
    if names is None:
        return ()
    if not names:
        raise click.BadParameter("names no model; leave it out for every model")
    unknown = [n for n in names if n not in (*MODEL_KINDS, ENSEMBLE, *BASELINES)]
    if unknown:
        known = ", ".join((*MODEL_KINDS, ENSEMBLE, *BASELINES))
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}; choose from {known}")
    return names


# The same --models as `run`'s, naming rows to show; -m/--model was its spelling before.
MODEL_FILTER_OPTION = click.option(
    "--models",
    "model",
    cls=AliasOption,
    aliases=("-m", "--model"),
    multiple=True,
    callback=_check_models,
    help=f"Only these models' rows, comma-separated or repeated: {', '.join((*MODEL_KINDS, ENSEMBLE, *BASELINES))} "
    "(default: all).",
)
