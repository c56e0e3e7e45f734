"""The API views of API keys and bundle versions copy every public field of the stored records."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from genrekit.lifecycle.versions import ModelVersion
from genrekit.service.access.keys import KeyInfo
from genrekit.service.routes.keys import _public
from genrekit.service.routes.versions import _version


def test_key_and_version_views_copy_every_field() -> None:
    created = dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
    info = KeyInfo(id="k1", name="ci", role="read", created_at=created, revoked_at=created, rate_limit_per_minute=5)
    assert _public(info).model_dump() == dataclasses.asdict(info)
    version = ModelVersion(
        id="2", name="m", path=Path("versions/2"), registered_at="2024-05-01T12:00:00+00:00", source="retrain",
        parent="1", evaluation={"macro_f1": 0.8},
    )
    assert _version(version).model_dump() == {k: v for k, v in dataclasses.asdict(version).items() if k != "path"}
