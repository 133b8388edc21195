"""TensorFlow ships its own SQLite without maths functions; whichever library a process loads
first serves every `sqlite3` connection. The accuracy views need sqrt, so importing any part of
forecaster must load Python's sqlite3 before TensorFlow can."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_sqrt_works_after_the_training_stack_is_imported_first():
    code = (
        "import forecaster.model.training, sqlite3\n"
        "print(sqlite3.connect(':memory:').execute('select sqrt(16)').fetchone()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "4.0"
