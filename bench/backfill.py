"""Wall time of a backfill of the course's test period on the bundled data.

    python -m bench.backfill [--start 2019-05-06] [--end 2020-04-24] [--between predict]

A fresh data dir, then `forecaster backfill` for rnn, lstm and gru, retraining every 20 trading
days (predicting with the current version in between, unless --between finetune), in a fresh
process as a user would run it. Prints the wall time and the command's own summary.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="2019-05-06")
    parser.add_argument("--end", default="2020-04-24")
    parser.add_argument("--between", default="predict", choices=["predict", "finetune"])
    parser.add_argument("--retrain-every", default="20")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("forecaster"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FORECASTER_DATA_DIR": str(Path(tmp) / "data")}
        command = [
            exe,
            "backfill",
            "--start",
            args.start,
            "--end",
            args.end,
            "--models",
            "rnn,lstm,gru",
            "--retrain-every",
            args.retrain_every,
            "--between",
            args.between,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=tmp, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    print(done.stdout)
    if done.returncode != 0:
        sys.exit(f"backfill failed ({done.returncode}):\n{done.stderr}")
    print(
        f"backfill {args.start}..{args.end}, retrain every {args.retrain_every}, between: {args.between}: "
        f"{wall:.0f} s wall ({wall / 60:.1f} min)"
    )


if __name__ == "__main__":
    main()
