"""forecaster: a scheduled batch job that keeps A-share daily bars and forecasts them."""

__version__ = "0.1.0"

# Python's sqlite3 must be loaded before TensorFlow: TensorFlow bundles its own SQLite library
# without the maths functions (sqrt, used by the accuracy views), and whichever of the two is
# loaded first is the one every later `sqlite3` connection in the process uses.
import sqlite3  # noqa: F401
