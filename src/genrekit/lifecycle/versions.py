"""Bundle versions (the model registry): bundles on disk, which one is the champion, and the history.

Layout of a registry folder (a volume shared by the serving processes and the retraining job)::

    <root>/registry.json        {"champion": id | null, "versions": {id: {...}}, "history": [...]}
    <root>/versions/<id>/       a complete bundle (card.json, model.safetensors, ...)

A version's id is its card's ``version`` (made safe for a folder name). ``registry.json`` is
replaced atomically (write, fsync, rename) under an exclusive lock file, so a reader always
sees a whole registry and two writers never lose each other's changes. Every change appends
to ``history``: ``register``, ``promote``, ``refuse`` (a challenger kept out by the promotion
rule) and ``rollback``, each with the time, the versions involved and the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import CARD_FILENAME, checked_file, read_card
from genrekit.errors import BundleError, GenrekitError

REGISTRY_FILENAME = "registry.json"
VERSIONS_DIRNAME = "versions"
LOCK_FILENAME = ".lock"
_SAFE_ID = re.compile(r"[^A-Za-z0-9._+-]")


class RegistryError(GenrekitError):
    """The registry cannot do what was asked (unknown version, nothing to roll back to, ...)."""


def version_id(card: ModelCard) -> str:
    """Registry id of a bundle: its card's version, with characters unsafe in a folder name replaced by ``_``."""
    safe = _SAFE_ID.sub("_", str(card.version)).strip("._")
    if not safe:
        raise RegistryError(f"model card version {card.version!r} cannot name a registry version")
    return safe


@dataclass(frozen=True)
class ModelVersion:
    """One registered bundle."""

    id: str
    name: str
    path: Path
    registered_at: str
    source: str
    parent: str | None
    evaluation: dict[str, Any]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


class ModelRegistry:
    """A registry folder (created on first write).

    Parameters
    ----------
    root : path
        The registry folder, e.g. ``GENREKIT_MODEL_REGISTRY``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ reading

    def _read(self) -> dict[str, Any]:
        path = self.root / REGISTRY_FILENAME
        if not path.is_file():
            return {"champion": None, "versions": {}, "history": []}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise RegistryError(f"model registry {path} is unreadable: {error}") from error
        return data

    def _version(self, version: str, entry: dict[str, Any]) -> ModelVersion:
        return ModelVersion(
            id=version,
            name=str(entry.get("name", "")),
            path=self.root / VERSIONS_DIRNAME / version,
            registered_at=str(entry.get("registered_at", "")),
            source=str(entry.get("source", "")),
            parent=entry.get("parent"),
            evaluation=dict(entry.get("evaluation") or {}),
        )

    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first."""
        data = self._read()
        return [self._version(v, e) for v, e in data["versions"].items()]

    def get(self, version: str) -> ModelVersion:
        """One version; raises :class:`RegistryError` when it is not registered."""
        entry = self._read()["versions"].get(version)
        if entry is None:
            raise RegistryError(f"no model version {version!r} in {self.root}")
        return self._version(version, entry)

    def champion(self) -> ModelVersion | None:
        """The version serving now, or ``None`` for an empty registry."""
        data = self._read()
        version = data.get("champion")
        if version is None:
            return None
        return self._version(version, data["versions"][version])

    def champion_id(self) -> str | None:
        """Id of the champion (cheap: what serving processes poll)."""
        return self._read().get("champion")

    def history(self) -> list[dict[str, Any]]:
        """Every change, oldest first."""
        return list(self._read().get("history", []))

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the registry lock, give the current data, write it back atomically on success."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILENAME, "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                data = self._read()
                yield data
                fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".registry-", suffix=".tmp")
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        json.dump(data, handle, indent=2, sort_keys=True)
                        handle.write("\n")
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(tmp_name, self.root / REGISTRY_FILENAME)
                finally:
                    Path(tmp_name).unlink(missing_ok=True)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def register(
        self,
        bundle: str | os.PathLike[str],
        *,
        source: str,
        parent: str | None = None,
        evaluation: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Copy a bundle into the registry as a new version (not promoted).

        Parameters
        ----------
        bundle : path
            Bundle directory; its card and every checksummed file are checked first.
        source : str
            Where it comes from (``"retrain"``, ``"import /path"``).
        parent : str or None
            The version it was retrained from.
        evaluation : dict or None
            The champion-versus-challenger evaluation that produced it.

        Raises
        ------
        BundleError
            The bundle is malformed or a file does not match its checksum.
        RegistryError
            A version with the same id is already registered.
        """
        source_dir = Path(bundle)
        card = read_card(source_dir)
        for filename in card.sha256:
            checked_file(source_dir, card, filename)
        version = version_id(card)
        with self._locked() as data:
            if version in data["versions"]:
                raise RegistryError(f"model version {version!r} is already registered in {self.root}")
            target = self.root / VERSIONS_DIRNAME / version
            staging = self.root / VERSIONS_DIRNAME / f".{version}.incoming"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(source_dir, staging, ignore=shutil.ignore_patterns("checkpoint", "*.tmp"))
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
            entry = {
                "name": card.name,
                "registered_at": _now(),
                "source": source,
                "parent": parent,
                "evaluation": evaluation or {},
            }
            data["versions"][version] = entry
            data["history"].append({"at": entry["registered_at"], "action": "register", "version": version, "reason": source})
        return self._version(version, entry)

    def promote(self, version: str, *, reason: str, evaluation: dict[str, Any] | None = None) -> ModelVersion:
        """Make ``version`` the champion; the serving processes pick it up without a restart."""
        with self._locked() as data:
            if version not in data["versions"]:
                raise RegistryError(f"no model version {version!r} in {self.root}")
            self._check_bundle(version)
            previous = data.get("champion")
            data["champion"] = version
            data["history"].append(
                {"at": _now(), "action": "promote", "version": version, "from": previous, "reason": reason,
                 **({"evaluation": evaluation} if evaluation else {})}
            )
            entry = data["versions"][version]
        return self._version(version, entry)

    def record_refusal(self, version: str, *, reason: str, evaluation: dict[str, Any]) -> None:
        """Log that a registered challenger was kept out by the promotion rule."""
        with self._locked() as data:
            data["history"].append(
                {"at": _now(), "action": "refuse", "version": version, "from": data.get("champion"),
                 "reason": reason, "evaluation": evaluation}
            )

    def rollback(self, *, reason: str = "manual rollback") -> ModelVersion:
        """Make the champion before the current one the champion again.

        The previous champion is the ``from`` of the promotion (or rollback) that installed the
        current one, so repeated rollbacks walk back through the promotions.

        Raises
        ------
        RegistryError
            No champion, or nothing was serving before it.
        """
        with self._locked() as data:
            current = data.get("champion")
            if current is None:
                raise RegistryError("the registry has no champion to roll back from")
            target = self._previous_champion(data["history"], current)
            if target is None:
                raise RegistryError(f"nothing served before {current!r}: there is no version to roll back to")
            self._check_bundle(target)
            data["champion"] = target
            data["history"].append({"at": _now(), "action": "rollback", "version": target, "from": current, "reason": reason})
            entry = data["versions"][target]
        return self._version(target, entry)

    @staticmethod
    def _previous_champion(history: list[dict[str, Any]], current: str) -> str | None:
        """The champion the latest change to ``current`` replaced, skipping steps already rolled back."""
        undone = 0
        for event in reversed(history):
            if event.get("action") == "rollback":
                undone += 1
            elif event.get("action") == "promote":
                if undone:
                    undone -= 1
                    continue
                if event.get("version") == current:
                    return event.get("from")
        return None

    def _check_bundle(self, version: str) -> None:
        path = self.root / VERSIONS_DIRNAME / version
        if not (path / CARD_FILENAME).is_file():
            raise BundleError(f"registered version {version!r} has no bundle at {path}")
