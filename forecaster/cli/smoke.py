"""`forecaster smoke`: the course's letter RNNs as a check that Keras, TensorFlow and the model
files work on this machine."""

import sys
from collections.abc import Sequence
from typing import Any

import click

from forecaster.cli.options import FORMAT_OPTION
from forecaster.cli.output import echo_rows, say_for
from forecaster.cli.runtime import CliError, load_training_stack, open_db
from forecaster.config import Settings


def _check_smoke_task(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked here rather than with click.Choice so that the task list is not imported (with
    # NumPy and the ORM) every time the CLI starts.
    from forecaster.course.letters import TASKS

    if value is not None and value not in TASKS:
        raise click.BadParameter(f"{value!r} is not a smoke task; choose from {', '.join(TASKS)}")
    return value


@click.command()
@click.option("--task", metavar="NAME", callback=_check_smoke_task, help="Run one task only (default: all four).")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="Full-batch epochs for every task run (default: each task's own, enough to reach 100%).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the initial weights.")
@click.option("--ask", is_flag=True, help="Afterwards, read letters from stdin and print the predicted next letter.")
@FORMAT_OPTION
@click.pass_obj
def smoke(settings: Settings, task: str | None, epochs: int | None, seed: int, ask: bool, fmt: str) -> None:
    """Check that Keras, TensorFlow and the model files work: the course's four letter RNNs.

    Each task is trained (with Keras' own fit, not the forecasters' training loop), saved and
    reloaded; it passes when the reloaded model predicts every training pair and answers exactly
    as before saving. The run is recorded (see `status`); exits 1 if any task falls short.
    """
    from forecaster.storage.db import session_factory, transaction

    if ask and fmt != "table":  # its prompts and answers are for a person, not a script's rows
        raise click.UsageError("--ask talks to a person; give it without --format csv/json")
    engine = open_db(settings)  # a database problem shows before, not after, the training
    load_training_stack()
    from forecaster.course.letters import record_smoke, run_smoke

    results = run_smoke(task, epochs, seed, settings.data_dir / "smoke")
    echo_rows([_smoke_row(r) for r in results], fmt, SMOKE_TABLE, empty="no tasks run")
    with transaction(session_factory(engine)) as session:
        record_smoke(session, results)
    if ask:
        _ask_letters(results)
    failed = [r.task for r in results if not r.ok]
    if failed:
        raise CliError(f"smoke test failed: {', '.join(failed)}")
    say_for(fmt)(f"smoke test ok: {len(results)} task(s) in {sum(r.seconds for r in results):.1f} s")


SMOKE_TABLE = ["task", "ok", "epochs", "seconds", "accuracy", "reload_identical", "samples"]


def _smoke_row(r: Any) -> dict[str, Any]:
    """A task's result; `samples` shows the first three pairs, or the first three it got wrong."""
    shown = ", ".join((r.misses or r.samples)[:3])
    if r.misses:
        shown = f"{len(r.misses)} wrong: {shown}"
    if len(r.misses or r.samples) > 3:
        shown += ", …"
    return {
        "task": r.task,
        "ok": r.ok,
        "epochs": r.epochs,
        "seconds": r.seconds,
        "accuracy": r.accuracy,
        "reload_identical": r.reload_identical,
        "samples": shown,
    }


def _ask_letters(results: Sequence[Any]) -> None:
    from forecaster.course.letters import answer, reload_models

    models = reload_models(results)  # what answers is what was saved
    click.echo("type letters to see what comes next (an empty line ends)")
    while True:
        click.echo("letters> ", nl=False)
        line = sys.stdin.readline()
        if not line.strip():
            click.echo()
            return
        for reply in answer(models, line):
            click.echo(f"  {reply}")
