"""The benchmark suite's own logic, cheaply: the course re-implementation's data and network,
the Markdown it renders, its option parsing and the synthetic CSV the scaling benchmark feeds
`forecaster run`. The benchmarks themselves run with `python -m bench`, not here."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench.ingest
import bench.peers
from bench.__main__ import parse_args, run_one
from bench.child import ChildRun, RunRecord
from bench.course import build_course_model, course_data
from bench.machine import Machine
from bench.markdown import markdown_table, render_document
from bench.peer_table import PeerFit, peer_section
from bench.scaling import Daily, Scaled, scaling_section, synthetic_csv
from bench.section import Options, Section, fmt
from bench.training import Trial, course_targets
from forecaster.config import BUNDLED_CSV, Settings
from forecaster.course.experiment import load_course_bars
from forecaster.ingest.sources.csvfile import read_bar_csv
from forecaster.ingest.validate import validate_bars
from forecaster.market.calendar import BUILTIN, trading_days
from forecaster.scoring.metrics import Scores

# Parameters by hand: SimpleRNN u(in + u + 1); LSTM 4u(in + u + 1); GRU (reset_after, Keras 3's
# default) 3u(in + u + 2); then Dense(100 -> 1) = 101.
COURSE_PARAMS = {
    "rnn": 80 * (1 + 80 + 1) + 100 * (80 + 100 + 1) + 101,
    "lstm": 4 * 80 * (1 + 80 + 1) + 4 * 100 * (80 + 100 + 1) + 101,
    "gru": 3 * 80 * (1 + 80 + 2) + 3 * 100 * (80 + 100 + 2) + 101,
}


@pytest.fixture(scope="module")
def data():
    return course_data(BUNDLED_CSV)


@pytest.mark.parametrize(("kind", "layer"), [("rnn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")])
def test_course_network_is_the_course_architecture(kind, layer):
    model = build_course_model(kind)
    model.build((None, 60, 1))
    assert [type(lay).__name__ for lay in model.layers] == [layer, "Dropout", layer, "Dropout", "Dense"]
    assert [model.layers[i].units for i in (0, 2, 4)] == [80, 100, 1]
    assert model.layers[0].return_sequences and not model.layers[2].return_sequences
    assert [model.layers[i].rate for i in (1, 3)] == [0.2, 0.2]
    assert model.count_params() == COURSE_PARAMS[kind]


def test_course_windows_match_the_course_split(data):
    # 2426 rows: the first 2426 - 300 = 2126 train (2126 - 60 windows), the last 300 test (300 - 60).
    assert data.x_train.shape == (2066, 60, 1) and data.y_train.shape == (2066,)
    assert data.x_test.shape == (240, 60, 1) and data.y_test.shape == (240,)
    # The scaler is fit on the training opens only (windows and labels cover all 2126): they span
    # [0, 1]; the 2019-20 test prices lie above it.
    seen = np.concatenate([data.x_train.ravel(), data.y_train])
    assert seen.min() == pytest.approx(0.0) and seen.max() == pytest.approx(1.0)
    assert data.x_test.max() > 1.5
    opens = pd.read_csv(BUNDLED_CSV)["open"].to_numpy()
    np.testing.assert_allclose(data.scaler.inverse_transform(data.y_test.reshape(-1, 1))[:, 0], opens[-240:])


def test_course_shuffle_keeps_every_window_with_its_own_label(data):
    opens = pd.read_csv(BUNDLED_CSV)["open"].to_numpy()[:2126]
    scaled = data.scaler.transform(opens.reshape(-1, 1))[:, 0]
    label_of = {scaled[i - 60 : i].tobytes(): scaled[i] for i in range(60, 2126)}
    assert all(label_of[x[:, 0].tobytes()] == y for x, y in zip(data.x_train, data.y_train, strict=True))
    in_order = np.array([scaled[i - 1] for i in range(60, 2126)])  # each window's last value, unshuffled
    assert not np.array_equal(data.x_train[:, -1, 0], in_order)  # ...and the order did change


def test_course_targets_are_the_last_240_days_against_the_previous_close():
    bars = load_course_bars(Settings())
    targets = course_targets(bars, "open")
    assert len(targets.actual) == 240 and bars.index[-240] == pd.Timestamp("2019-05-06")
    assert targets.last_close[0] == bars["close"].iloc[-241]  # the close on the day before the first target
    assert targets.actual[-1] == bars["open"].iloc[-1] and targets.scale > 0
    assert targets.score(targets.last_close).mae == pytest.approx(7.46, abs=0.01)  # EVALUATION.md's naive MAE


def test_numbers_format_by_size():
    values = (182122.4, 594.04, 50.351, 1.0041, 3, None, float("nan"), "x")
    assert [fmt(x) for x in values] == ["182,122", "594.0", "50.35", "1.004", "3", "—", "—", "x"]


def test_markdown_table_aligns_number_columns_right():
    table = markdown_table(["model", "course s", "ours / course"], [["rnn", 52.0, 0.5], ["lstm", 1234.6, None]])
    assert table == (
        "| model | course s | ours / course |\n|---|---:|---:|\n| rnn | 52.00 | 0.500 |\n| lstm | 1,235 | — |"
    )


def test_document_has_the_machine_the_command_and_every_section():
    machine = Machine(
        date="2026-01-02 03:04 UTC",
        cpu="Test CPU 9000",
        cores=2,
        memory_gb=8.0,
        load_average=(1.0, 0.5, 0.25),
        system="Linux 6",
        python="3.11.7",
        versions={"TensorFlow": "2.99", "Keras": "3.99"},
        settings_env={},
    )
    sections = [
        Section("ingest", "Ingest", ["bars", "rows/s"], [[1000, 2000.0]], notes=["a note"], headline=[("rows/s", 2e3)]),
        Section("profile", "Where the time goes", ["cost", "s"], [["imports", 9.0]], text="Paragraph."),
    ]
    doc = render_document(sections, machine, ".venv/bin/python -m bench --quick", quick=True, suite_s=120.0)
    assert doc.startswith("# Benchmarks\n\n> **Quick run**")
    expected = [
        "| CPU | Test CPU 9000 |",
        "| cores | 2 |",
        "| TensorFlow | 2.99 |",
        "| Keras | 3.99 |",
        "| FORECASTER_* settings | none (defaults) |",
        ".venv/bin/python -m bench --quick\n",
        "(2.0 min in all)",
        "| Ingest | rows/s | 2,000 |",  # the headline table
        "## Ingest\n\n| bars | rows/s |\n|---:|---:|\n| 1,000 | 2,000 |\n\n- a note",
        "## Where the time goes",
        "Paragraph.",
    ]
    for part in expected:
        assert part in doc, part


def test_options_name_known_benchmarks_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bench.peers, "NEEDS", ("no_such_module_here",))  # darts absent, as in CI
    assert parse_args(["--only", "ingest,queries", "--quick"]).only == ["ingest", "queries"]
    assert parse_args(["--only", "peers"]).only == ["peers"]  # asked for by name, it says what is missing
    assert parse_args([]).only == [
        "course",
        "routine",
        "backfill",
        "ingest",
        "queries",
        "smoke",
        "scaling",
        "distributed",
        "memory",
    ]
    monkeypatch.setattr(bench.peers, "NEEDS", ("json",))  # what it needs is there: the default runs it too
    assert parse_args([]).only[-1] == "peers"
    with pytest.raises(SystemExit):
        parse_args(["--only", "ingest,nope"])
    with pytest.raises(SystemExit):
        parse_args(["--repeats", "0"])


def test_peers_without_darts_is_one_line_saying_how_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bench.peers, "NEEDS", ("json", "no_such_module_here"))
    [section] = run_one("peers", Options(quick=True, repeats=1))
    assert section.name == "peers" and not section.title.endswith("FAILED")
    [[line]] = section.rows
    assert isinstance(line, str)
    assert line.startswith("no_such_module_here not installed; to run it: pip install torch")
    assert "'.[peers]'" in line and "json" not in line.split(";")[0]


def _fit(who: str, kind: str, threads: int, fit_s: float, epochs: int, mae: float) -> PeerFit:
    scores = Scores(n=240, mse=0.0, rmse=0.0, mae=mae, mape=0.0, mase=0.0, hit_rate=0.5, ties=0)
    trial = Trial(who, kind, fit_s, fit_s, epochs, 1000, "close", scores)  # type: ignore[arg-type]
    return PeerFit(trial, params=10, threads=threads, rel_mae=mae / 20.0)


def test_peer_section_compares_with_darts_at_tensorflows_threads():
    fits = [
        _fit("ours", "rnn", 0, 10.0, 20, 20.0),  # 2,000 samples/s
        _fit("darts", "rnn", 1, 10.0, 10, 30.0),  # 1,000
        _fit("darts", "rnn", 2, 5.0, 4, 40.0),  # 800; TF's default here is one thread per core: 2
        _fit("ours", "rnn", 0, 30.0, 20, 22.0),  # a second repeat: the medians are 20 s and 21.0
        _fit("darts", "rnn", 1, 10.0, 10, 30.0),
        _fit("darts", "rnn", 2, 5.0, 4, 40.0),
    ]
    section = peer_section(fits, Options(repeats=2), reported=0, cores=2)
    ours, one, two = section.rows
    rate = ours[5]
    assert isinstance(rate, float)
    assert ours[:5] == ["rnn", "ours", "TF 0 (= 2)", 20.0, 20] and ours[6] is None
    assert rate == pytest.approx((2000 + 1000 / 1.5) / 2) and ours[7] == pytest.approx(21.0)
    assert one[2] == "1" and one[5] == pytest.approx(1000.0) and one[6] == pytest.approx(rate / 1000)
    assert two[2] == "2" and two[8] == pytest.approx(2.0)
    assert section.headline == [
        ("rnn: samples/s ours / darts (torch at 2 threads)", f"{rate / 800:.2f}×"),
        ("rnn: test MAE / naive, darts (ours)", "2.000 (1.050)"),
    ]


def test_scaling_csv_is_read_and_accepted_like_a_tushare_file(tmp_path: Path):
    days = trading_days(date(2024, 1, 2), date(2024, 3, 29))
    path = synthetic_csv(tmp_path / "bars.csv", ["600000.SH", "600001.SH"], days)
    for ticker in ("600000.SH", "600001.SH"):
        bars = read_bar_csv(path, ticker)
        assert len(bars) == len(days)
        validate_bars(bars, ticker, date(2024, 12, 31), BUILTIN)  # raises on anything the ingest would refuse
    assert not read_bar_csv(path, "600000.SH")["close"].equals(read_bar_csv(path, "600001.SH")["close"])


def test_a_failing_benchmark_becomes_a_failed_section(monkeypatch: pytest.MonkeyPatch):
    def broken(opts: Options) -> list[Section]:
        raise RuntimeError("forecaster run failed (1):\nTraceback ...\nValueError: boom")

    monkeypatch.setattr(bench.ingest, "bench", broken)
    [section] = run_one("ingest", Options(quick=True, repeats=1))
    assert section.title == "ingest: FAILED"
    assert section.rows == [["forecaster run failed (1): … ValueError: boom"]]


def test_scaling_rows_split_the_wall_time_into_steps():
    def daily(wall: float, train: float) -> Daily:
        timings = {"ingest": 0.5, "load": 0.25, "actuals": 0.25, "train": train, "forecast": 1.0, "plot": 2.0}
        return Daily(ChildRun(wall, 900.0, ""), RunRecord("ok", timings, {"finetune": 3, "baseline": 2}))

    results = [Scaled(1, 30.0, [daily(10.0, 4.0)]), Scaled(4, 60.0, [daily(40.0, 16.0), daily(44.0, 16.0)])]
    section = scaling_section(results, Options(quick=False, repeats=2))
    assert section.headers[:4] == ["tickers", "wall s", "s / ticker", "marginal s / ticker"]
    # wall, per ticker, marginal, ingest, train, predict, plot, DB, model files, other (= wall - steps), models
    assert section.rows[0] == [1, 10.0, 10.0, None, 0.5, 4.0, 1.0, 2.0, 0.5, 0.0, 2.0, "finetune ×3"]
    assert section.rows[1] == [4, 42.0, 10.5, 32.0 / 3, 0.5, 16.0, 1.0, 2.0, 0.5, 0.0, 22.0, "finetune ×3"]
    assert section.headline == [("daily run, seconds per extra ticker (1→4; goal ≤ 0.3)", 32.0 / 3)]
