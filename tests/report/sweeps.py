"""Real sweeps against ``sim://``, short ones, for the report tests to render."""

from __future__ import annotations

from bulkload import event_loop
from bulkload.backends import create_backend
from bulkload.bench.result import SweepResult, machine_facts
from bulkload.bench.sweep import Sweep, SweepSpec, SyntheticData
from bulkload.config import EngineOptions, TargetOptions
from bulkload.sources.synthetic import parse_synthetic
from bulkload.version import __version__

DATA = SyntheticData(parse_synthetic("rows=20000,columns=4,seed=3"))


def run_sweep(url: str, **spec: object) -> SweepResult:
    settings: dict[str, object] = {
        "levels": (1, 4, 16),
        "batch_sizes": (100,),
        "warmup_s": 0.1,
        "duration_s": 0.3,
    }
    settings.update(spec)
    plan = SweepSpec(**settings)  # type: ignore[arg-type]
    backend = create_backend(TargetOptions(url=url))
    result = SweepResult(
        model=plan.model,
        target=url,
        table="t",
        command=["bulkload", "bench", "--to", url],
        version=__version__,
        machine=machine_facts(),
        started_at=1_790_000_000.0,
    )
    sweep = Sweep(backend, DATA, plan, EngineOptions(), table="t", result=result)
    return event_loop.run(sweep.run())
