"""Running shares of one job: prepare the target once, run share i of N, merge.

- :mod:`.partition`: the one formula that divides counts and keys among N shares (the
  batches of files are divided by the source, ``SourceOptions.process_share``);
- :mod:`.shares`: the configuration share i of N runs, for ``import`` and ``bench``;
- :mod:`.prepare`: the target prepared once, by the parent, before any share writes;
- :mod:`.local`: the local-process runner (``multiprocessing``, spawn): a barrier per
  level, an event to stop, a queue for progress and results;
- :mod:`.failure`: the error of a share, with its exit code.

The runners: in-process (``bench --shard i/N``: one share, merged later by
``report merge``), local processes (:mod:`.local`, serving ``import --processes`` in
``bulkload.import_processes`` and ``bench --processes`` in ``bulkload.bench.processes``)
and Dask (``--cluster``: ``bulkload.cluster``).
"""
