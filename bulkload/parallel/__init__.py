"""Running shares of one job: prepare the target once, run share i of N, merge.

- :mod:`.partition`: the one formula that divides counts and keys among N shares (the
  batches of files are divided by the source, ``SourceOptions.process_share``);
- :mod:`.shares`: the configuration share i of N runs, for ``import`` and ``bench``,
  whichever runner runs it;
- :mod:`.prepare`: the target prepared once, by the parent, before any share writes;
- :mod:`.runner`: the seam every runner offers its caller
  (:class:`.runner.ShareRunner`: ``stop()``, ``await run()``, then ``outcome()``, an
  :class:`.runner.Outcome`: the merged result, the failed shares as
  :class:`.runner.ShareEnd` data, the parent's own error);
- :mod:`.in_process`: ``import`` in this process (:class:`.in_process.ImportRun`);
- :mod:`.local`: the local-process plumbing (``multiprocessing``, spawn): a barrier per
  level, an event to stop, a queue for progress and results;
- :mod:`.local_import`: ``import --processes`` (:class:`.local_import.ImportProcesses`);
- :mod:`.dask_connect`: the Dask plumbing (``--cluster``): the client, the stop and
  abort events its tasks watch; :mod:`.dask_import`: ``import --cluster``
  (:class:`.dask_import.ClusterImport`).

The bench runners run the sweep, so they live above this layer, in ``bulkload.bench``:
``run.ShardRun`` (in-process, ``--shard i/N``), ``processes.BenchProcesses`` and
``dask.ClusterBench``. None prints, renders or picks an exit code: the CLI runs any of
them the same way (``bulkload.cli.signals.run_stoppable``), then finishes.
"""
