"""Fixtures of the storage tests: the throwaway PostgreSQL the service tests start."""

from __future__ import annotations

from tests.service.conftest import postgres_url  # noqa: F401 - the service tests' throwaway PostgreSQL
