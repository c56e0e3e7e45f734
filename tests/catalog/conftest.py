"""Fixtures of the catalog tests: the tiny bundle, a generated library, a database URL."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.catalog.library import make_library
from tests.service.conftest import postgres_url  # noqa: F401 - the service tests' throwaway PostgreSQL
from tests.predict.test_classifier import save_tiny_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_bundle(tmp_path_factory.mktemp("catalog-bundle") / "tiny"))


@pytest.fixture()
def tiny_bundle_v2(tiny_bundle: str, tmp_path: Path) -> str:
    """The same weights under a new version: a model change."""
    target = tmp_path / "tiny-v2"
    shutil.copytree(tiny_bundle, target)
    card_path = target / "card.json"
    card = json.loads(card_path.read_text())
    card["version"] = "0.0.2"
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True))
    return str(target)


@pytest.fixture(scope="session")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("catalog-template") / "lib")


@pytest.fixture()
def library(library_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the generated library (symlinks kept as links)."""
    target = tmp_path / "lib"
    shutil.copytree(library_template, target, symlinks=True)
    _relink(library_template, target)
    return target


def _relink(template: Path, target: Path) -> None:
    """Point copied absolute symlinks into the copy instead of the template."""
    links = [Path(d) / n for d, dirs, files in os.walk(target) for n in dirs + files if (Path(d) / n).is_symlink()]
    for link in links:
        destination = Path(link.readlink())
        if destination.is_absolute() and template in (destination, *destination.parents):
            link.unlink()
            link.symlink_to(target / destination.relative_to(template))


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
