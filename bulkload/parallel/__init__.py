"""Running shares of one job: prepare the target once, run share i of N, merge.

- :mod:`.partition`: the one formula that divides counts and keys among N shares (the
  batches of files are divided by the source, ``SourceOptions.process_share``);
- :mod:`.shares`: the configuration share i of N runs, for ``import`` and ``bench``;
- :mod:`.prepare`: the target prepared once, by the parent, before any share writes;
- :mod:`.runner`: the seam a runner offers its caller (:class:`.runner.ShareRunner`:
  ``stop()``, ``await run()``, then its outcome as data), and how a caller's stop
  requests reach a run (:data:`.runner.Interrupts`);
- :mod:`.local`: the local-process runner (``multiprocessing``, spawn): a barrier per
  level, an event to stop, a queue for progress and results;
- :mod:`.local_import`: ``import --processes`` on it (:class:`.local_import.ImportProcesses`);
- :mod:`.dask_connect`, :mod:`.dask_import`: the Dask client (``--cluster``) and
  ``import --cluster``;
- :mod:`.failure`: the error of a share, with its :class:`~bulkload.errors.FailureKind`.

The runners: in-process (``bench --shard i/N``: one share, merged later by
``report merge``), local processes (:mod:`.local`; ``bench --processes`` is
``bulkload.bench.processes.BenchProcesses``, above this layer as it runs the sweep) and
Dask (``--cluster``: :mod:`.dask_import`, and ``bulkload.bench.dask`` for the sweep).
None prints, renders or picks an exit code: the CLI does, with one ``finish()``.
"""
