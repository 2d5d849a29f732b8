"""Start-up as a ratio to Python itself, in one run of alternating rounds.

    python benchmarks/startup.py [--repeat 15]

Absolute start-up times move with the machine; the ratio to the interpreter's own does
much less. Each round runs, in turn:

* ``python -c pass``                  and ``bulkload --version``           (target <= 2.5x)
* ``python -c "import pyarrow.csv"``  and a one-row CSV import into ``null://``
                                                                            (target <= 1.5x)

``bulkload`` is the console script installed beside this interpreter (as a user runs it),
else ``python -m bulkload``. The median of the per-round ratios is reported with its
min-max, and the machine's load average beside it (other work slows both sides alike,
but not exactly alike).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD, alternate, ratio_line, ratios, spread, timed


def _bulkload() -> list[str]:
    beside = Path(sys.executable).with_name("bulkload")
    found = str(beside) if beside.exists() else shutil.which("bulkload")
    return [found] if found else list(BULKLOAD)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    bulkload = _bulkload()
    work = Path(tempfile.mkdtemp(prefix="bulkload-startup-"))
    one_row = work / "one.csv"
    one_row.write_text("id,name,price\n1,widget,2.50\n")

    def run(command: list[str]) -> float:
        return timed(command, cwd=work)[0]

    python = sys.executable
    contenders = {
        "python -c pass": lambda: run([python, "-c", "pass"]),
        "bulkload --version": lambda: run([*bulkload, "--version"]),
        "import pyarrow.csv": lambda: run([python, "-c", "import pyarrow.csv"]),
        "import 1 row -> null://": lambda: run(
            [*bulkload, "import", str(one_row), "--to", "null://", "--quiet"]
        ),
    }
    for run_once in contenders.values():  # warm the page cache and the bytecode
        run_once()
    times = alternate(contenders, args.repeat)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"rounds: {args.repeat}   (median wall time, min-max)   load average: {load}")
    for name, values in times.items():
        print(f"{name:<26}: {spread(values)}")
    version = ratios(times["bulkload --version"], times["python -c pass"])
    one = ratios(times["import 1 row -> null://"], times["import pyarrow.csv"])
    print(ratio_line("bulkload --version / python -c pass", version, 2.5))
    print(ratio_line("1-row import / import pyarrow.csv", one, 1.5))
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
