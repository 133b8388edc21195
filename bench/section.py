"""What every benchmark hands back: one or more sections, each a small table plus raw numbers.

A section is data, not text: the suite prints it as a plain table, renders it as Markdown and
dumps `raw` to JSON, so the three never disagree.
"""

import math
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | None
# A quick run's `forecaster` processes train one model kind, for a few epochs: enough to run
# every step of the code measured, in a fraction of the time.
QUICK_EPOCHS = 3
QUICK_MODELS = "rnn"
QUICK_NOTE = f"QUICK: {QUICK_MODELS} only, trained at most {QUICK_EPOCHS} epochs"


@dataclass(frozen=True)
class Options:
    """How hard the suite works: `quick` shrinks every size (and says so in the output)."""

    quick: bool = False
    repeats: int = 3

    @property
    def child_env(self) -> dict[str, str]:
        """Settings for the `forecaster` processes a benchmark starts."""
        if not self.quick:
            return {}
        return {"FORECASTER_MAX_EPOCHS": str(QUICK_EPOCHS), "FORECASTER_MODELS": QUICK_MODELS}


@dataclass
class Section:
    name: str  # the benchmark's name, as `--only` takes it
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)  # lines under the table: what was measured, quick labels
    headline: list[tuple[str, Cell]] = field(default_factory=list)  # (metric, value) for the summary table
    text: str = ""  # free Markdown after the notes (e.g. the profile's paragraph)
    raw: dict[str, Any] = field(default_factory=dict)  # every number measured, for the JSON file


def fmt(value: Cell) -> str:
    """One number format for every table: thousands get separators, small values 3 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"
