"""Progress bars on long work: shown on a terminal, silent in the daemon, logs and pipes."""

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], *, desc: str, unit: str = "it", total: int | None = None) -> Iterator[T]:
    """Iterate `items`, drawing a bar on stderr only when stderr is a terminal."""
    yield from tqdm(items, desc=desc, unit=unit, total=total, disable=not sys.stderr.isatty(), leave=False)


def progress_bar(*, desc: str, unit: str = "it", total: int | None = None) -> tqdm:  # type: ignore[type-arg]
    """A bar to update by hand (with an ETA once its total is known); drawn only on a terminal."""
    return tqdm(desc=desc, unit=unit, total=total, disable=not sys.stderr.isatty(), leave=False)
