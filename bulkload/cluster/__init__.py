"""``--cluster``: run shards of a command on a Dask cluster and merge their results.

Dask (``pip install 'bulkload[dask]'``) is imported only when ``--cluster`` is given.
"""
