"""Fixtures of the backend tests: the real HTTP ingest server and a throwaway MariaDB
(tests/servers)."""

from tests.servers.fixtures import ingest, ingest_process  # noqa: F401
from tests.servers.mariadb import mariadb_server, mysql  # noqa: F401
