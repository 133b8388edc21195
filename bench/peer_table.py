"""The peers benchmark's table: ours and darts per kind, medians over the repeats.

Apart from bench/darts_peer.py so that it renders (and is tested) without darts installed.
"""

from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING

from bench.machine import package_version
from bench.section import QUICK_EPOCHS, Cell, Options, Section

if TYPE_CHECKING:
    from bench.training import Trial

HEADERS = ["model", "who", "threads", "fit s", "epochs", "samples/s", "ours / this samples/s", "MAE", "MAE / naive",
           "parameters"]  # fmt: skip


@dataclass(frozen=True)
class PeerFit:
    """One fit, ours or darts', in bench/training.py's terms, with its threads and network size."""

    trial: "Trial"
    params: int
    threads: int  # torch's intra-op threads; for ours, TensorFlow's as it reports them (0: default)
    rel_mae: float  # MAE / naive's (the last close) on the same 240 targets


def _medians(fits: list[PeerFit], kind: str, who: str, threads: int) -> dict[str, float]:
    chosen = [f for f in fits if (f.trial.kind, f.trial.who, f.threads) == (kind, who, threads)]
    return {
        "fit_s": median(f.trial.fit_s for f in chosen),
        "epochs": median(f.trial.epochs for f in chosen),
        "rate": median(f.trial.samples_per_s for f in chosen),
        "mae": median(f.trial.scores.mae for f in chosen),
        "rel_mae": median(f.rel_mae for f in chosen),
        "params": chosen[0].params,
    }


def peer_section(fits: list[PeerFit], opts: Options, reported: int, cores: int) -> Section:
    """One row per (kind, who, threads), medians over the repeats; the headline compares ours
    with darts at the threads ours ran at (`cores` where TensorFlow reports 0, its default)."""
    same = reported or cores
    rows: list[list[Cell]] = []
    headline: list[tuple[str, Cell]] = []
    for kind, who, threads in dict.fromkeys((f.trial.kind, f.trial.who, f.threads) for f in fits):
        m, ours = _medians(fits, kind, who, threads), _medians(fits, kind, "ours", reported)
        shown = f"TF {reported} (= {cores})" if who == "ours" and reported == 0 else str(threads)
        ratio = None if who == "ours" else ours["rate"] / m["rate"]
        rows.append([kind, who, shown, m["fit_s"], m["epochs"], m["rate"], ratio, m["mae"], m["rel_mae"], m["params"]])
        if who == "darts" and threads == same:
            headline.append((f"{kind}: samples/s ours / darts (torch at {same} threads)", f"{ratio:.2f}×"))
            headline.append((f"{kind}: test MAE / naive, darts (ours)", f"{m['rel_mae']:.3f} ({ours['rel_mae']:.3f})"))
    raw = {
        "tf_intra_op_threads": reported,
        "cores": cores,
        "versions": _versions(),
        "fits": [_fit_json(f) for f in fits],
    }
    return Section(
        "peers", "A peer: darts BlockRNNModel vs ours", HEADERS, rows, _notes(opts, reported, cores), headline, raw=raw
    )


def _notes(opts: Options, reported: int, cores: int) -> list[str]:
    notes = [
        f"Median of {opts.repeats} repeat(s); ours, darts at 1 thread and darts at one thread a core "
        "alternate (who goes first rotates each repeat). " + ", ".join(f"{k} {v}" for k, v in _versions().items()),
        f"Threads: ours ran TensorFlow at intra-op {reported} (the project's TF_NUM_INTRAOP_THREADS; 0: TensorFlow's "
        f"default, one per core; {cores} cores here); "
        "torch set by torch.set_num_threads for each darts fit.",
        "Samples/s: training windows × epochs run / seconds in fit (both validate every epoch); ours / this: "
        "ours' samples/s over the row's.",
        "Same split as the course benchmark: the 2126 training rows, the windows of their newest 10 % for early "
        "stopping, the 240 one-day-ahead test targets (2019-05-06..2020-04-24); MAE / naive against the last close.",
        "darts: BlockRNNModel(input_chunk_length=60, output_chunk_length=1), 2 layers of hidden_dim 90 (ours: "
        "80 then 100; about the same parameters), MSE loss, darts' default MinMax Scaler fit on the training "
        "windows' rows only, float32 series, batch, learning rate, seed, epoch cap and patience as ours, the "
        "best validation epoch's checkpoint kept (as ours keeps its best weights); test forecasts by "
        "historical_forecasts(retrain=False, forecast_horizon=1), each from the rows before its target.",
    ]
    if opts.quick:
        notes.insert(0, f"QUICK: at most {QUICK_EPOCHS} epochs each: throughput only, the accuracies mean nothing.")
    return notes


def _versions() -> dict[str, str]:
    return {name: package_version(name) for name in ("darts", "torch", "pytorch-lightning")}


def _fit_json(f: PeerFit) -> dict[str, object]:
    t = f.trial
    return {"who": t.who, "kind": t.kind, "threads": f.threads, "fit_s": t.fit_s, "epochs": t.epochs,
            "samples": t.samples, "samples_per_s": t.samples_per_s, "mae": t.scores.mae, "rel_mae": f.rel_mae,
            "params": f.params}  # fmt: skip
