"""``bench --processes auto`` (the default): one process, unless one event loop is what
limits the run.

Before the sweep, a short probe runs its heaviest level (the highest concurrency, or
the highest arrival rate, first batch size) for about a second against the real target
and measures the event loop's thread: the share of the wall time it was *runnable* —
on a core, or waiting in the run queue for one (Linux's per-thread schedstat; elsewhere
its CPU time alone). A loop that wanted a core at least :data:`SATURATED` of the time
had no idle moment left: the tool was the limit, and the sweep runs in P processes, P
the cores this process may use. Otherwise one process drives the target, and splitting
would only add noise.

Some runs are never split, measured or not: targets that live in this process
(``sqlite://``, ``null://``, ``sim://``: a second process would add a second writer
to a file, or measure a different simulated target), and what ``--processes`` cannot
take (``--sweep auto``, ``--shard``, ``--cluster``, stdin), ``--if-exists fail`` (the
probe would create the table the sweep then must not find) and ``replace`` (every
process would drop the table), and ``--abort-on-fail`` (a split sweep's gates are judged
once all its levels have run). P is also at most the
smallest level (a level of 1 cannot be split in two) and the synthetic rows.

The decision and its reason are ``processes_decision`` in the JSON result and one line on
stderr (when ``auto`` is the default, only if the probe ran). :func:`decide` is pure: it
is tested with measurements handed to it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from bulkload.bench.probe import NETWORK_SCHEMES, Probe
from bulkload.config import BenchConfig
from bulkload.sources.discovery import STDIN

#: runnable (on a core or waiting for one) this share of the probe: the loop is the limit
SATURATED = 0.9
PROBE_WARMUP_S = 0.3
PROBE_DURATION_S = 1.0


@dataclass(frozen=True)
class Decision:
    processes: int
    reason: str
    cores: int
    probe: Probe | None = None  # None: decided without measuring

    def line(self) -> str:
        """The one line that says what was chosen and why."""
        count = f"{self.processes} process{'es' if self.processes > 1 else ''}"
        return f"bulkload: --processes auto: {count}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": "auto",
            "processes": self.processes,
            "reason": self.reason,
            "cores": self.cores,
            "probe": None if self.probe is None else asdict(self.probe),
        }


def available_cores() -> int:
    """The cores this process may run on (its affinity; a container's cpuset)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def unsplittable(config: BenchConfig) -> str | None:
    """Why this run cannot be split among processes whatever is measured, or None."""
    scheme = urlsplit(config.target.url).scheme.lower() if config.target.url else ""
    if scheme not in NETWORK_SCHEMES:
        where = f"{scheme}://" if scheme else "the target"
        return (
            f"{where} is not a network target (only http(s)://, postgresql:// and mysql:// are "
            "split among processes)"
        )
    if config.queries.queries:
        return "a read sweep (--query) is split only when asked (--processes P)"
    sweep = config.sweep
    if sweep.auto:
        return "--sweep auto chooses its levels as it runs: they cannot be split"
    if sweep.shard is not None:
        return "--shard runs one share already"
    if config.cluster.address:
        return "--cluster splits the levels among its workers already"
    if config.source is not None and STDIN in config.source.paths:
        return "the input is stdin, which cannot be read by several processes"
    if config.target.if_exists == "fail":
        return "--if-exists fail: the probe would create the table the sweep must not find"
    if config.target.if_exists == "replace":
        return "--if-exists replace: each process would drop and create the table at once"
    if config.gates.abort_on_fail:
        return "--abort-on-fail stops at a level's failed gate, judged as it ends in one process"
    return None


def most_processes(config: BenchConfig, cores: int) -> tuple[int, str]:
    """The most processes the run could take, and what limits it to that."""
    sweep = config.sweep
    limits: list[tuple[int, str]] = [(cores, f"{cores} core{'s' if cores > 1 else ''} available")]
    if sweep.rates:
        cap = config.engine.concurrency
        limits.append((cap, f"--concurrency {cap} caps the writes in flight"))
    elif sweep.levels:
        smallest = min(sweep.levels)
        limits.append((smallest, f"the smallest level is {smallest}"))
    if config.synthetic is not None:
        rows = config.synthetic.rows
        limits.append((rows, f"--synthetic has {rows} rows"))
    return min(limits, key=lambda limit: limit[0])


def heaviest_level(config: BenchConfig) -> float:
    """The level the probe runs: the most writes in flight, or the highest rate."""
    sweep = config.sweep
    return max(sweep.rates) if sweep.rates else max(sweep.levels)


def decide(config: BenchConfig, cores: int, probe: Probe | None) -> Decision:
    """The number of processes, and why. ``probe`` is None when :func:`needs_probe` is
    False (the answer does not depend on it)."""
    reason = unsplittable(config)
    if reason is not None:
        return Decision(1, reason, cores)
    most, limit = most_processes(config, cores)
    if most < 2:
        return Decision(1, f"{limit}: nothing to split", cores)
    if probe is None:
        raise ValueError("this run needs a probe to decide")
    target = urlsplit(config.target.url).scheme
    measured = f"{_runnable(probe)} during a {probe.seconds:.1f} s probe at {probe.level}"
    if probe.error is not None:
        return Decision(1, f"the probe at {probe.level} failed ({probe.error})", cores, probe)
    if probe.demand < SATURATED:
        return Decision(
            1,
            f"one event loop keeps up: {measured} against {target}:// "
            f"({probe.writes_per_s:,.0f} writes/s)",
            cores,
            probe,
        )
    return Decision(
        most,
        f"one event loop is the limit: {measured} against {target}:// "
        f"({probe.writes_per_s:,.0f} writes/s); {limit}",
        cores,
        probe,
    )


def needs_probe(config: BenchConfig, cores: int) -> bool:
    return unsplittable(config) is None and most_processes(config, cores)[0] >= 2


def decided(config: BenchConfig, decision: Decision) -> BenchConfig:
    """``config`` with the chosen number of processes in place of ``auto``."""
    sweep = replace(config.sweep, processes=decision.processes, processes_auto=False)
    return replace(config, sweep=sweep)


def _runnable(probe: Probe) -> str:
    if probe.runnable is None:
        return f"its thread was on a core {probe.busy:.0%} of the time"
    return f"its thread wanted a core {probe.runnable:.0%} of the time (on one {probe.busy:.0%})"


class ProcessesProbe:
    """``--processes auto`` as a runner of one share (this process), so that its caller
    stops it as any other (the CLI: its Ctrl-C): :meth:`run` probes when the answer
    depends on it, :meth:`outcome` is the :class:`Decision` (None: stopped)."""

    def __init__(self, config: BenchConfig, *, argv: Sequence[str] = ()):
        from bulkload.bench.run import prepare_shard

        self.config, self.cores = config, available_cores()
        self.sweep = None
        self.decision: Decision | None = None
        if len(argv) < 2:  # called as a library: no command line to start children with
            self.decision = Decision(
                1, "no command line to start worker processes with", self.cores
            )
        elif not needs_probe(config, self.cores):
            self.decision = decide(config, self.cores, None)
        else:
            self.sweep = prepare_shard(config, None, argv=argv)

    def stop(self) -> None:
        """The probe ends with its writes in flight."""
        if self.sweep is not None:
            self.sweep.control.request_stop()

    async def run(self) -> None:
        sweep = self.sweep
        if sweep is None:
            return
        level = heaviest_level(self.config)
        probe = await sweep.probe(level, warmup_s=PROBE_WARMUP_S, duration_s=PROBE_DURATION_S)
        if not sweep.control.stop_requested:
            self.decision = decide(self.config, self.cores, probe)

    def outcome(self, *, stopped: bool = False) -> Decision | None:
        return None if stopped else self.decision
