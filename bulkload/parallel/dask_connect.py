r"""The Dask runner's plumbing, for ``bench --cluster`` and ``import --cluster`` alike:
a client for ``--cluster ADDRESS`` (an existing scheduler) or ``local:N`` (a
LocalCluster of N worker processes on this machine), the workers a run uses, and how
its tasks are stopped, and (``--metrics-addr``) how their timelines' intervals reach
the client while they run (:class:`IntervalFeed`).

The client's API blocks, so a run talks to it from a thread of its own
(:class:`DaskShares`). Two named Dask ``Event``\ s reach the tasks: *stop* (the graceful
stop: each task ends what it runs) and *abort* (the run was cancelled: each task cancels
its work at once); a task watches them (:func:`run_watched`). Cancelling a future
alone would not do: Dask cannot stop a task's thread, which would go on writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from bulkload import event_loop
from bulkload.config.parse import local_workers
from bulkload.errors import TargetUnreachable, UsageError
from bulkload.parallel.local import IntervalListener
from bulkload.redact import redact_url
from bulkload.stats.timeline import Interval, Timeline

CONNECT_TIMEOUT_S = 10.0
WORKERS_TIMEOUT_S = 30.0  # how long --workers W waits for W workers to join
POLL_S = 0.2  # how often the client, and each task, look at the stop requests
ABORT_WAIT_S = 10.0  # how long aborted tasks get to end before their futures are cancelled

T = TypeVar("T")


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
        with warnings.catch_warnings():  # its HTTP server's port taken: it takes another
            warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
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


class DaskShares:
    """The client side of one run: ``await shares.run(body)`` calls ``body(shares)`` on
    a thread of its own, connected (``client``, ``workers``); :meth:`gather` waits for
    a round of tasks, passing the stop requests on."""

    def __init__(self, address: str, workers: int | None):
        self.address = address
        self.wanted = workers
        self.run_id = uuid.uuid4().hex[:12]
        self.stopping = False  # the graceful stop was asked
        self.aborting = False  # run() was cancelled
        self.client: Any = None
        self.workers: list[str] = []

    @property
    def events(self) -> tuple[str, str]:
        """The names of the run's stop and abort events, for its tasks."""
        return f"bulkload-stop-{self.run_id}", f"bulkload-abort-{self.run_id}"

    def stop(self) -> None:
        self.stopping = True

    async def run(self, body: Callable[[DaskShares], T]) -> T:
        """``body(self)`` on a thread, connected; cancelled: the tasks are aborted and
        waited for (at most ``ABORT_WAIT_S``), then the cancel goes on."""
        thread = asyncio.create_task(asyncio.to_thread(self._connected, body))
        try:
            return await asyncio.shield(thread)
        except asyncio.CancelledError:
            self.aborting = True
            with contextlib.suppress(BaseException):
                await thread
            raise

    def _connected(self, body: Callable[[DaskShares], T]) -> T:
        with cluster_client(self.address) as client:
            self.client = client
            self.workers = pick_workers(client, self.wanted, self.address)
            try:
                return body(self)
            finally:
                self.client = None

    def gather(
        self, futures: list[Any], ended_badly: Callable[[Any], bool] | None = None
    ) -> list[Any]:
        """The tasks' results, once each has ended. A stop request, or a task that
        ``ended_badly``, sets the stop event (the others end what they run); an abort
        sets the abort event, waits for the tasks, cancels what is left and raises
        CancelledError."""
        distributed = import_distributed()
        client = self.client
        stop, abort = (distributed.Event(name, client=client) for name in self.events)
        pending = list(futures)
        told = False
        while pending:
            if self.aborting:
                abort.set()
                with contextlib.suppress(TimeoutError):  # then cancelled: the last resort
                    distributed.wait(pending, timeout=ABORT_WAIT_S)
                client.cancel(futures)
                raise asyncio.CancelledError
            halt = ended_badly is not None and any(
                f.status == "finished" and ended_badly(f.result()) for f in futures
            )
            if (self.stopping or halt) and not told:
                stop.set()
                told = True
            try:
                done = distributed.wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
                pending = list(done.not_done)
            except TimeoutError:  # none ended yet: look at the requests again
                pass
        results: list[Any] = client.gather(futures)
        return results


def task_events(names: tuple[str, str]) -> tuple[Any, Any]:
    """In a task: the run's stop and abort events (made before its work starts: the
    first makes the worker's client)."""
    distributed = import_distributed()
    return distributed.Event(names[0]), distributed.Event(names[1])


def run_watched(
    main: Callable[[], Coroutine[Any, Any, T]],
    events: tuple[Any, Any],
    on_stop: Callable[[], None],
) -> T:
    """In a task: run ``main()`` on a loop of its own while watching the run's
    :func:`task_events`: stop (``on_stop`` is called once) and abort (``main`` is
    cancelled: CancelledError is raised)."""
    stop, abort = events

    async def watch(task: asyncio.Task[T]) -> None:
        stopped = False
        while True:
            if not stopped and await asyncio.to_thread(stop.is_set):
                stopped = True
                on_stop()
            if await asyncio.to_thread(abort.is_set):
                task.cancel()
                return
            await asyncio.sleep(POLL_S)

    async def watched() -> T:
        task = asyncio.create_task(main())
        watcher = asyncio.create_task(watch(task))
        try:
            return await task
        finally:
            await event_loop.cancel_and_wait(watcher)

    return event_loop.run(watched())


# ----------------------------------------------------------------------------- live intervals

#: how long the client waits, after a round, for the tasks' last intervals to arrive
FEED_WAIT_S = 5.0


class IntervalFeed:
    """``--metrics-addr`` on a cluster: each task publishes its timeline's intervals on
    the run's topic as they close (:func:`publish_intervals`, through
    ``Worker.log_event``), and the client hands them to ``listeners`` with the task's
    share. Each task ends its stream with a "done" event; :meth:`settle` waits (at most
    ``FEED_WAIT_S``) for those, so the last intervals arrive before the run is over
    (one worker's events reach the client in the order it sent them)."""

    def __init__(self, topic: str, listeners: list[IntervalListener]):
        self.topic = topic
        self.listeners = listeners
        self._done = 0
        self._lock = threading.Condition()

    def subscribe(self, client: Any) -> None:
        client.subscribe_topic(self.topic, self._on_event)

    def unsubscribe(self, client: Any) -> None:
        client.unsubscribe_topic(self.topic)

    def settle(self, tasks: int) -> None:
        """Wait until ``tasks`` tasks in all have said they are done (or for the limit)."""
        deadline = time.monotonic() + FEED_WAIT_S
        with self._lock:
            while self._done < tasks and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        _, message = event
        if message.get("done"):
            with self._lock:
                self._done += 1
                self._lock.notify_all()
            return
        interval = Interval.from_dict(message["interval"])
        for listener in self.listeners:
            listener(interval, int(message["share"]))


def publish_intervals(timeline: Timeline, topic: str, share: int) -> Callable[[], None]:
    """In a task: each interval of ``timeline`` goes to the client on ``topic`` as it
    closes; what is returned says the task's stream is done (call it at its end)."""
    worker = import_distributed().get_worker()

    def publish(interval: Interval) -> None:
        worker.log_event(topic, {"share": share, "interval": interval.to_dict()})

    timeline.listeners.append(publish)
    return lambda: worker.log_event(topic, {"share": share, "done": True})
