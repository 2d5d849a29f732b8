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
but not exactly alike). On a busy machine the CPU time each process used (user + sys)
is printed too: it moves much less with the neighbours than the wall time does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BULKLOAD, alternate, ratio_line, ratios, spread


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

    cpu: dict[str, list[float]] = {}

    def run(command: list[str]) -> float:
        """Wall seconds; the CPU seconds (user + sys) go to ``cpu`` under the same name."""
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=work, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark command failed: {' '.join(command)}")
        cpu.setdefault(" ".join(command), []).append(usage.ru_utime + usage.ru_stime)
        return elapsed

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
    cpu.clear()
    times = alternate(contenders, args.repeat)
    cpu_times = dict(zip(contenders, cpu.values(), strict=True))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"rounds: {args.repeat}   (median wall time, min-max)   load average: {load}")
    for name, values in times.items():
        print(f"{name:<26}: {spread(values)}")
    version = ratios(times["bulkload --version"], times["python -c pass"])
    one = ratios(times["import 1 row -> null://"], times["import pyarrow.csv"])
    print(ratio_line("bulkload --version / python -c pass", version, 2.5))
    print(ratio_line("1-row import / import pyarrow.csv", one, 1.5))
    print("CPU time (user + sys), median, min-max:")
    for name, values in cpu_times.items():
        print(f"{name:<26}: {spread(values)}")
    version_cpu = ratios(cpu_times["bulkload --version"], cpu_times["python -c pass"])
    one_cpu = ratios(cpu_times["import 1 row -> null://"], cpu_times["import pyarrow.csv"])
    print(ratio_line("CPU bulkload --version / python -c pass", version_cpu, 2.5))
    print(ratio_line("CPU 1-row import / import pyarrow.csv", one_cpu, 1.5))
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
