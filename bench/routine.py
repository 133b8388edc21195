"""Wall time and peak memory of `forecaster run` on the bundled data, each in a fresh process.

    python -m bench.routine

1. first run: empty database, ingest the CSV, train rnn/lstm/gru from scratch, forecast, plot
   (as of 2020-04-23, the second-to-last bundled day);
2. daily run: the next day (2020-04-24) with one new bar: fine-tune the three models, forecast,
   plot. TensorFlow's import is included in both, as a cron job would pay it.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS of that child in MB, its last output line)."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if child.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{text}")
    return wall, usage.ru_maxrss / 1024, text.strip().splitlines()[-1]  # ru_maxrss: KB on Linux


def main() -> None:
    exe = str(Path(sys.executable).with_name("forecaster"))
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        os.environ["FORECASTER_DATA_DIR"] = str(cwd / "data")
        first = timed([exe, "run", "--as-of", "2020-04-23"], cwd)
        daily = timed([exe, "run", "--as-of", "2020-04-24"], cwd)
    print(f"first run (ingest + train 3 models + forecast + plot): {first[0]:.1f} s wall, peak {first[1]:.0f} MB")
    print(f"  {first[2]}")
    print(f"daily run (fine-tune 3 models + forecast + plot):      {daily[0]:.1f} s wall, peak {daily[1]:.0f} MB")
    print(f"  {daily[2]}")


if __name__ == "__main__":
    main()
