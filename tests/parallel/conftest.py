"""Fixtures of the share runners' tests: the real HTTP ingest server (tests/servers)."""

from tests.servers.fixtures import ingest, ingest_process  # noqa: F401
