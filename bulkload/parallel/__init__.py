"""Running shares of one job: prepare the target once, run share i of N, merge.

- :mod:`.partition`: the one formula that divides counts and keys among N shares (the
  batches of files are divided by the source, ``SourceOptions.process_share``);
- :mod:`.shares`: the configuration share i of N runs, for ``import`` and ``bench``;
- :mod:`.prepare`: the target prepared once, by the parent, before any share writes;
- :mod:`.children`: what the local-process runners share (a child's name, its end,
  how long it gets to stop, the error of a share).

The runners: in-process (``bench --shard i/N``: one share, merged later by
``report merge``), local processes (``import --processes``: ``bulkload.import_processes``,
``bench --processes``: ``bulkload.bench.processes``) and Dask (``--cluster``:
``bulkload.cluster``).
"""
