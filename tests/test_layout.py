"""The house's rules, read from the code: no import loop between modules, arrows that run down
the stages, small modules (shared/docs/DESIGN.md §3)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "forecaster"
STAGES = {"market", "storage", "ingest", "model", "routine", "daemon", "scoring", "reporting", "course", "cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every forecaster module `path` imports anywhere (top level, functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from forecaster.x import y` names module x.y when y is a module, else a name in x.
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names
            ]
        found.update(n for n in names if n in known)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, known) - {name} for name, path in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_loop_between_modules():
    assert find_cycle(graph()) is None


def test_the_cycle_finder_finds_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_reads_as_its_stages():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert folders == STAGES
    assert loose == {"__init__.py", "clock.py", "config.py", "errors.py"}


ABOVE_MARKET = {"storage", "ingest", "model", "routine", "scoring", "reporting", "daemon", "course", "cli"}


@pytest.mark.parametrize(
    ("stage", "never"),
    [("model", {"storage", "ingest", "routine", "cli"}), ("storage", {"cli"}), ("market", ABOVE_MARKET)],
)
def test_arrows_run_down(stage, never):
    edges = graph()
    wrong = sorted(
        (src, dst)
        for src, dsts in edges.items()
        if src.startswith(f"forecaster.{stage}")
        for dst in dsts
        if dst.split(".")[1] in never
    )
    assert wrong == []


def test_storage_and_reporting_never_import_keras():
    for stage in ("storage", "reporting"):
        for path in (PACKAGE / stage).rglob("*.py"):
            tree = ast.parse(path.read_text())
            roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not roots & {"keras", "tensorflow"}, path


def test_the_library_never_imports_the_jobs():
    # The CLI is the edge that hands the job list to the scheduler; nothing below it knows jobs/.
    for path in (p for p in PACKAGE.rglob("*.py") if p.parent.name != "cli"):
        text = path.read_text()
        assert "import jobs" not in text and "from jobs" not in text, path


# Calls that read the wall clock or today's date; forecaster/clock.py is the one place for them.
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}
CLOCK_READS |= {("Timestamp", "now"), ("Timestamp", "today"), ("Timestamp", "utcnow")}


def clock_reads(source: str) -> list[str]:
    """`datetime.now()`, `date.today()`, `time.time()`, `pd.Timestamp.now()`, ... called in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in CLOCK_READS:
                found.append(f"{name}.{node.func.attr} (line {node.lineno})")
    return found


def test_one_clock_reads_the_time():
    reads = {str(p.relative_to(PACKAGE)): r for p in PACKAGE.rglob("*.py") if (r := clock_reads(p.read_text()))}
    assert reads == {"clock.py": ["datetime.now (line 10)"]}


def test_the_clock_scan_finds_each_way_to_read_the_time():
    calls = ["datetime.now(UTC)", "datetime.datetime.utcnow()", "date.today()", "time.time()", "pd.Timestamp.now()"]
    source = "\n".join([*calls, "time.perf_counter()", "clock.now()"])
    assert [r.split(" ")[0] for r in clock_reads(source)] == [
        "datetime.now",
        "datetime.utcnow",
        "date.today",
        "time.time",
        "Timestamp.now",
    ]


def test_no_module_over_300_lines():
    assert {
        str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 300
    } == {}


def test_test_modules_share_builders_through_helpers_not_each_other():
    tests = Path(__file__).resolve().parent
    offenders = [
        p.name
        for p in tests.glob("test_*.py")
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("tests.test_")
    ]
    assert offenders == []
