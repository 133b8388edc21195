"""The pooled study's scored set and its goal table, from made-up files and evaluate rows."""

import json
from pathlib import Path

import pandas as pd
import pytest

import bench.studies.pooled as study

HEADER = "股票代码,股票名称,交易日期,开盘价,最高价,最低价,收盘价,前收盘价,成交量,成交额\n"


def _csv(path: Path, code: str, first: str) -> None:
    path.write_text(f"banner\n{HEADER}{code},X,{first},1,1,1,1,1,100,100\n", encoding="utf-8")


def test_the_scored_set_keeps_the_tickers_with_a_bar_by_the_first_day(tmp_path):
    _csv(tmp_path / "sh600519.csv", "sh600519", "2001-08-27")
    _csv(tmp_path / "sz300760.csv", "sz300760", study.START)
    _csv(tmp_path / "sh688012.csv", "sh688012", "2019-07-22")  # listed after the first as-of day
    assert study.scored_set(tmp_path) == ["600519.SH", "300760.SZ"]


def test_the_goal_table_reads_shares_coverage_kupiec_and_the_pooled_dm(tmp_path, monkeypatch):
    rows = [
        {"ticker": t, "model": "gru", "horizon": 1, "coverage_80": c, "coverage_95": 0.95, "kupiec80_p": p,
         "kupiec95_p": 0.5, "dm_garch": None, "dm_garch_p": None}
        for t, c, p in (("A", 0.70, 0.01), ("B", 0.80, 0.60))
    ] + [{"ticker": "all", "model": "gru", "horizon": 1, "dm_garch": -2.5, "dm_garch_p": 0.01}]  # fmt: skip
    (tmp_path / "evaluate.json").write_text(json.dumps(rows))
    ratios = {"garch": [0.98, 1.04], "naive": [0.95, 0.97]}
    monkeypatch.setattr(
        study,
        "paired_ratios",
        lambda _dir, base: pd.DataFrame({"ticker": ["A", "B"], "model": "gru", "ratio": ratios[base]}),
    )
    (gru,) = study.goal_table(tmp_path).rows
    assert gru[:4] == ["gru", 2, 2, pytest.approx(1.01)] and gru[4] == pytest.approx(0.96)
    assert gru[5:] == [0.5, pytest.approx(0.75), pytest.approx(0.95), 0.5, 1.0, -2.5, 0.01]
