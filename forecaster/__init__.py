"""forecaster: a scheduled batch job that keeps A-share daily bars and forecasts them."""

__version__ = "0.1.0"

import os

# Python's sqlite3 must be loaded before TensorFlow: TensorFlow bundles its own SQLite library
# without the maths functions (sqrt, used by the accuracy views), and whichever of the two is
# loaded first is the one every later `sqlite3` connection in the process uses.
import sqlite3  # noqa: F401

# TensorFlow's intra-op thread pool: one thread, unless the user sets TF_NUM_INTRAOP_THREADS.
# Our networks' ops are small (a 60-step recurrent loop of 128 x 80 matrix products), and
# splitting each one over the cores cost more in hand-offs than it gained: on the 2-core
# machine, a warm train step at batch 128 took 85-93 ms (lstm) and 89-101 ms (gru) with one
# intra-op thread against 110-120 and 133-146 ms with TensorFlow's default of one per core;
# rnn 30-37 ms either way (docs/performance.md; bench/studies/throughput.py measures it). The inter-op pool stays at its
# default, which runs the loop's independent ops side by side (one inter-op thread was slower
# still). TensorFlow reads the variable when it creates its thread pools, at the process's
# first operation, so setting it here, before anything of the project runs one, is early enough.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
