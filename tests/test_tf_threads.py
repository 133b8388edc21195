"""The project's TensorFlow thread default (forecaster/__init__.py): one intra-op thread unless
the user chose otherwise, set on import, before any TensorFlow operation runs."""

import os
import subprocess
import sys

SHOW = "import forecaster, os; print(os.environ['TF_NUM_INTRAOP_THREADS'])"


def _imported(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_importing_the_project_gives_tensorflow_one_intra_op_thread():
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    assert _imported(env) == "1"


def test_a_users_own_thread_setting_is_kept():
    assert _imported({**os.environ, "TF_NUM_INTRAOP_THREADS": "2"}) == "2"
