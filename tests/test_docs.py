"""The docs keep up with the code: every setting and command documented, the README short, links
that resolve, and no issue numbers in the docs or the package (they say facts, not history)."""

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from forecaster.cli import cli
from forecaster.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ("usage", "settings", "models", "data", "operations", "querying", "performance", "development")
README_MAX_LINES = 250
ISSUE_NUMBER = re.compile(r"\bissues?\s*#?\d+\b", re.IGNORECASE)
# A Markdown link: [text](file) or [text](file#anchor).
LINK = re.compile(r"\]\(([^)\s#]+)(?:#([^)\s]*))?\)")


def _docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md")))


def _command_paths(command: click.Command, path: tuple[str, ...]) -> Iterator[str]:
    yield " ".join(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _command_paths(sub, (*path, name))


def test_docs_has_one_page_per_question() -> None:
    missing = [page for page in PAGES if not (DOCS / f"{page}.md").is_file()]
    assert missing == []


def test_every_setting_is_in_settings_page() -> None:
    # The rule: each field's environment variable, FORECASTER_ + the field name in capitals.
    page = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`FORECASTER_{name.upper()}`" not in page]
    assert len(Settings.model_fields) > 40  # the walk found the settings
    assert missing == []


def test_every_command_is_in_docs() -> None:
    text = _docs_text()
    commands = list(_command_paths(cli, ("forecaster",)))
    assert "forecaster db upgrade" in commands  # the walk reaches subcommands
    missing = [command for command in commands if f"`{command}" not in text]
    assert missing == []


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES


def _issue_mentions() -> list[str]:
    files = [*DOCS.glob("*.md"), *(ROOT / "forecaster").rglob("*.py"), *(ROOT / "forecaster").rglob("*.md")]
    found = []
    for path in sorted(files):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ISSUE_NUMBER.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_issue_numbers_in_docs_or_package() -> None:
    assert _issue_mentions() == []


@pytest.mark.parametrize("text", ["see issue 17", "Issues #3 and", "(issue#12)"])
def test_issue_pattern_finds_numbers(text: str) -> None:
    assert ISSUE_NUMBER.search(text)


@pytest.mark.parametrize("text", ["the issue's rule", "tissue 5", "issues"])
def test_issue_pattern_spares_plain_words(text: str) -> None:
    assert not ISSUE_NUMBER.search(text)


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, - for spaces."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_links_between_readme_and_docs_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", ROOT / "CHANGELOG.md", *DOCS.glob("*.md")]:
        for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
            path = page.parent / target
            if "://" in target:
                continue
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
                broken.append(f"{page.relative_to(ROOT)} -> {target}#{anchor}")
    assert broken == []


def test_every_table_and_view_is_in_querying_page() -> None:
    from forecaster.storage.schema import Base

    page = (DOCS / "querying.md").read_text(encoding="utf-8")
    views = set()
    for migration in (ROOT / "migrations" / "versions").glob("*.py"):
        views |= set(re.findall(r"CREATE VIEW (\w+)", migration.read_text(encoding="utf-8")))
    names = sorted({*Base.metadata.tables, *views})
    assert "v_champion" in names and "forecasts" in names
    assert [name for name in names if f"`{name}`" not in page] == []
