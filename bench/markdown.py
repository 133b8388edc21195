"""Render a suite's sections: Markdown for BENCHMARKS.md, plain text for the terminal."""

from collections.abc import Sequence

from bench.machine import Machine
from bench.section import Cell, Section, fmt

QUICK_BANNER = (
    "> **Quick run** (`--quick`): smaller sizes, fewer epochs and one repeat, labelled in each "
    "section. A smoke test of the suite, not a result to quote."
)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A GitHub table; columns holding only numbers are right-aligned."""
    numeric = _numeric_columns(len(headers), rows)
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
        *("| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """The same table for a terminal: padded columns, numbers right-aligned."""
    cells = [list(headers), *([fmt(c) for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = _numeric_columns(len(headers), rows)

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True))

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *(line(r) for r in cells[1:])]).rstrip()


def render_console(section: Section) -> str:
    notes = "".join(f"\n  {n}" for n in section.notes)
    return f"== {section.title}\n{plain_table(section.headers, section.rows)}{notes}\n"


def render_document(sections: Sequence[Section], machine: Machine, command: str, quick: bool, suite_s: float) -> str:
    parts = ["# Benchmarks", *([QUICK_BANNER] if quick else [])]
    parts.append(
        f"Measured {machine.date} with `{command}` ({suite_s / 60:.1f} min in all). Ratios are the headline: "
        "the machine is shared, so absolute times move with the load; times are medians of the repeats stated."
    )
    parts += ["## Machine and versions", _machine_table(machine)]
    parts += ["## Commands", _commands(command, sections)]
    parts += ["## Headline", _headline(sections)]
    for section in sections:
        parts.append(render_section(section))
    return "\n\n".join(parts) + "\n"


def render_section(section: Section) -> str:
    parts = [f"## {section.title}", markdown_table(section.headers, section.rows)]
    if section.notes:
        parts.append("\n".join(f"- {n}" for n in section.notes))
    if section.text:
        parts.append(section.text)
    return "\n\n".join(parts)


def _machine_table(machine: Machine) -> str:
    load = ", ".join(f"{x:.2f}" for x in machine.load_average)
    versions: list[list[Cell]] = [[name, version] for name, version in machine.versions.items()]
    rows: list[list[Cell]] = [
        ["date", machine.date],
        ["CPU", machine.cpu],
        ["cores", str(machine.cores)],
        ["memory", f"{machine.memory_gb:.1f} GiB"],
        ["load average at start (1, 5, 15 min)", load],
        ["system", machine.system],
        ["Python", machine.python],
        *versions,
        ["FORECASTER_* settings", ", ".join(f"{k}={v}" for k, v in machine.settings_env.items()) or "none (defaults)"],
    ]
    return markdown_table(["", ""], rows)


def _commands(command: str, sections: Sequence[Section]) -> str:
    names = ", ".join(dict.fromkeys(s.name for s in sections if s.name != "profile"))
    return (
        "```sh\n"
        f"{command}\n"
        "```\n\n"
        f"One benchmark alone: `.venv/bin/python -m bench --only NAME` (NAME among {names}); "
        "add `--quick` for the small sizes, `--repeats N` for more repeats."
    )


def _headline(sections: Sequence[Section]) -> str:
    rows: list[list[Cell]] = [[s.title, metric, value] for s in sections for metric, value in s.headline]
    return markdown_table(["benchmark", "metric", "value"], rows)


def _numeric_columns(width: int, rows: Sequence[Sequence[Cell]]) -> list[bool]:
    """Columns of numbers (a missing value, None, may sit among them)."""

    def number(cell: Cell) -> bool:
        return isinstance(cell, int | float) and not isinstance(cell, bool)

    return [
        any(number(row[i]) for row in rows) and all(number(row[i]) or row[i] is None for row in rows)
        for i in range(width)
    ]
