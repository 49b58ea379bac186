"""Load speed: `matchmaker load` of a grown set beside a plain sqlite-utils insert_all.

    python bench/load.py                 # 200,000 SMEs, 3 runs each, medians
    python bench/load.py --n 50000 --runs 1

Both sides start from the same CSV files and an empty database file. Ours reads and checks
every row (encoding detection, header recognition, credit-code check characters, references
between files), then upserts in one transaction; the baseline only parses the CSV with the
csv module and calls `insert_all` — the floor any loader on sqlite-utils pays.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from grow import grow_set  # noqa: E402
from machine import machine  # noqa: E402
from sqlite_utils import Database  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench" / "handwritten-dev"


def ours(files: list[Path], db_path: Path) -> float:
    """The real command, in its own process, as a user runs it."""
    exe = Path(sys.executable).parent / "matchmaker"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "matchmaker.cli"]
    start = time.perf_counter()
    subprocess.run([*cmd, "load", "--db", str(db_path), *map(str, files)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def baseline(files: list[Path], db_path: Path) -> float:
    start = time.perf_counter()
    db = Database(db_path)
    for f in files:
        with open(f, encoding="utf-8-sig", newline="") as fh:
            db[f.stem].insert_all(csv.DictReader(fh), batch_size=5000)
    db.close()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="SMEs in the grown set")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--src", type=Path, default=SHARED)
    args = ap.parse_args()
    if not (args.src / "firms.csv").exists():
        sys.exit(f"{args.src} is absent: the shared benchmark sets (../shared/bench) are needed to grow a set")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        counts = grow_set([args.src], args.n, tmp / "set")
        files = [tmp / "set" / f"{n}.csv" for n in ("firms", "demands", "relations")]
        print(f"set: {counts} ({sum(f.stat().st_size for f in files) / 2**20:.0f} MiB CSV)")
        mine, base = [], []
        for i in range(args.runs):
            for fn, out in ((ours, mine), (baseline, base)):
                path = tmp / f"{fn.__name__}{i}.db"
                out.append(fn(files, path))
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
        m, b = statistics.median(mine), statistics.median(base)
        print(f"machine: {machine()}")
        print(f"{'':28s}{'median s':>10s}  runs")
        print(f"{'matchmaker load':28s}{m:10.1f}  {', '.join(f'{x:.1f}' for x in mine)}")
        print(f"{'sqlite-utils insert_all':28s}{b:10.1f}  {', '.join(f'{x:.1f}' for x in base)}")
        print(f"ratio (ours / baseline): {m / b:.2f}; goal: ≤ 60 s for {args.n:,} SMEs")


if __name__ == "__main__":
    main()
