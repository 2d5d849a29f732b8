"""``bulkload bench``: concurrency (or arrival-rate, or batch-size) sweeps over the same
backends as ``import``. :mod:`.pool` holds the pre-encoded data, :mod:`.driver` runs one
level, :mod:`.sweep` runs the levels and picks one, :mod:`.result` is what gets saved,
:mod:`.command` is the command line's entry point."""
