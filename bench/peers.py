"""A peer, side by side: darts' BlockRNNModel (PyTorch) beside ours, same rows, same targets.

    python -m bench --only peers [--quick] [--repeats N]

What a user choosing between the two tools compares: per kind (RNN, LSTM, GRU), the seconds in
fit, the training samples per second (training windows × epochs run / fit seconds) and MAE /
naive on the course's 240 one-day-ahead test targets. Ours is trained by bench/training.py's
`our_trial` (the product's settings, the course's training rows); darts by bench/darts_peer.py
with the same window, horizon, batch, learning rate, seed, epoch cap and patience. darts runs
with torch at one thread and at one a core (torch's default); ours at the project's TensorFlow
setting (one intra-op thread). The three alternate within each repeat (who goes first rotates); medians.

darts and torch are an optional extra (README.md, "Optional: darts beside ours"): this module
imports neither (nor TensorFlow) at its top, so `python -m bench` can ask cheaply whether to run
it; without them the section says how to install them, and the default suite leaves it out.
"""

import importlib.util
import os

from bench.peer_table import peer_section
from bench.section import Options, Section

# The modules darts' torch models import; `darts` alone installs without torch or Lightning.
NEEDS = ("darts", "torch", "pytorch_lightning")
# torch first, from the CPU index: darts[torch] would otherwise bring the CUDA build (GBs).
INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu && pip install -e '.[peers]'"


def missing() -> list[str]:
    """The modules of NEEDS that cannot be imported (found without importing them)."""
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def tf_threads() -> int:
    """TensorFlow's intra-op threads as this process runs it: its own setting where one was made,
    else TF_NUM_INTRAOP_THREADS (the project sets 1 on import, forecaster/__init__.py); 0 is
    TensorFlow's default, a thread per core."""
    import tensorflow as tf

    import forecaster  # noqa: F401  # its import sets the project's default

    configured = int(tf.config.threading.get_intra_op_parallelism_threads())
    return configured or int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0") or 0)


def bench(opts: Options) -> list[Section]:
    absent = missing()
    if absent:
        line = f"{', '.join(absent)} not installed; to run it: {INSTALL}"
        return [Section("peers", "A peer: darts BlockRNNModel vs ours (not run)", ["note"], [[line]])]
    from bench.darts_peer import run_trials

    reported, cores = tf_threads(), len(os.sched_getaffinity(0))
    return [peer_section(run_trials(opts, reported, cores), opts, reported, cores)]
