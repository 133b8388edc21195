"""Finished studies: measurements that chose a default and have nothing left to guard.

They are not run by `python -m bench`; each runs by name (`python -m bench.studies.NAME --help`),
see README.md here for what each answered.
"""

from bench.markdown import render_console
from bench.section import Section


def print_sections(sections: list[Section]) -> None:
    """A study's tables and notes on the terminal, as the suite prints its own."""
    for section in sections:
        print(render_console(section), flush=True)
