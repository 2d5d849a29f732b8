"""Fixtures of the backend tests: the real HTTP ingest server (tests/servers); the
throwaway MariaDB's are in tests/conftest.py (the bench and engine tests use it too)."""

from tests.servers.fixtures import ingest, ingest_process  # noqa: F401
