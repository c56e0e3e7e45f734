"""Property-based API conformance with schemathesis: no 5xx server errors, and every
response matches the OpenAPI schema (status codes, content types, bodies, headers)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from genrekit.service import create_app
from genrekit.service.errors import UrlRefusedError
from genrekit.service.intake import fetch, submission
from tests.service.conftest import FakeClassifier, make_settings, make_wav

_DATA_DIR = Path(tempfile.mkdtemp(prefix="genrekit-schemathesis-"))  # the database is created by the lifespan
app = create_app(make_settings(_DATA_DIR, keep_audio=True), classifier=FakeClassifier())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
pytestmark = pytest.mark.serial  # one node id for every generated test: xdist would run one of them
# An invalid body that is also over the JSON size limit is refused with 413 before it is
# validated: a rejection too (schemathesis's default list leaves 413 out).
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]


async def _no_network(url: str, **kwargs: object) -> None:
    fetch.validate_url(url)
    raise UrlRefusedError("network access is disabled in this test")


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    """Run the app's lifespan (database, model, worker pool) for the whole module; seed one result.

    Links are validated but never fetched (no traffic leaves the machine).
    """
    patch = pytest.MonkeyPatch()
    patch.setattr(submission, "fetch_audio", _no_network)
    try:
        with TestClient(app) as client:
            created = client.post("/api/v1/classify", files={"file": ("seed.wav", make_wav(0.5), "audio/wav")})
            if created.status_code != 200:
                raise RuntimeError(f"could not seed the database: {created.text}")
            yield
    finally:
        patch.undo()
        shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    # "Schema-valid data must be accepted" cannot hold here: any bytes match the upload's
    # schema but only audio is accepted (415/422), and any string matches ``cursor`` but only
    # a cursor the server issued is valid (400). Every other check runs.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
