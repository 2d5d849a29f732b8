"""``bulkload bench``: concurrency (or arrival-rate, or batch-size) sweeps over the same
backends as ``import``. :mod:`.pool` holds the pre-encoded data, :mod:`.driver` runs one
level, :mod:`.sweep` runs the levels and picks one, :mod:`.result` is what gets saved,
:mod:`.run` builds and runs a sweep or one shard of it (the library seam; the command
line's part is :mod:`bulkload.cli.bench_command`)."""
