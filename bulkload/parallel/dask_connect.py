"""A Dask client for ``--cluster ADDRESS`` (an existing scheduler) or ``local:N`` (a
LocalCluster of N worker processes on this machine), and the workers a run uses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bulkload.config.parse import local_workers
from bulkload.errors import TargetUnreachable, UsageError
from bulkload.redact import redact_url

CONNECT_TIMEOUT_S = 10.0
WORKERS_TIMEOUT_S = 30.0  # how long --workers W waits for W workers to join


def import_distributed() -> Any:
    """The ``distributed`` module, or a one-line error naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--cluster needs Dask's distributed package: pip install 'bulkload[dask]'"
        ) from None
    return distributed


@contextmanager
def cluster_client(address: str) -> Iterator[Any]:
    """A connected ``distributed.Client``, closed (and a local cluster shut down) on exit."""
    distributed = import_distributed()
    _quiet_dask_logging()
    local = local_workers(address)
    if local is not None:
        cluster = distributed.LocalCluster(
            n_workers=local,
            threads_per_worker=1,  # one share per worker at a time
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # what fails reaches the user as one line
        )
        with cluster, distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise TargetUnreachable(
            f"--cluster: cannot reach the Dask scheduler at {redact_url(address)}: {exc}"
        ) from None
    with client:
        yield client


def pick_workers(client: Any, count: int | None, address: str) -> list[str]:
    """The addresses of the ``count`` workers (default: all) that run the shards."""
    wanted = count or 1
    try:
        client.wait_for_workers(wanted, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError:
        found = len(client.scheduler_info(n_workers=-1)["workers"])
        raise TargetUnreachable(
            f"--workers {wanted}: the Dask cluster at {redact_url(address)} has "
            f"{found} worker(s) (waited {WORKERS_TIMEOUT_S:g}s)"
        ) from None
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    return workers[:count] if count else workers


def _quiet_dask_logging() -> None:
    """Dask's own log lines (worker start/stop, heartbeats) stay off the terminal."""
    for name in ("distributed", "distributed.worker", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
