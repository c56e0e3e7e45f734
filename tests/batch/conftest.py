"""Fixtures of the batch engine tests: the catalog tests' tiny bundle, library and database URL."""

from __future__ import annotations

from tests.catalog.conftest import db_url, library, library_template, tiny_bundle  # noqa: F401
