"""`make bench`: every benchmark, one after another (they would skew each other on 2 cores), full size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["bench_outbox.py"],
    ["bench_retrieval.py"],
    ["bench_import.py", "--quiet"],
    ["bench_telegram_import.py", "--quiet"],
]

if __name__ == "__main__":
    failed = 0
    for script, *args in BENCHES:
        print(f"== {script}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / script), *args]) != 0
    sys.exit(failed)
