"""The short, bounded part of ``make reliability`` (about 2 minutes on 2 busy cores): the local
deployment (PostgreSQL, two replicas in key mode, nginx from the repository's template) gets
the abuse cases, a PostgreSQL restart under load and a replica killed under load.

Skips when PostgreSQL or nginx is missing (``scripts/test-setup.sh`` installs both as root).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))

from faultcases import (  # noqa: E402
    abuse,
    full_upload_disk,
    kill_replica_under_load,
    load_clips,
    restart_database_under_load,
)
from localstack import Stack, missing_parts  # noqa: E402

PEAK_RSS_LIMIT_MB = 3000  # a replica's peak resident memory after the abuse cases (MiB)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing_parts()), reason="needs " + "; ".join(missing_parts()) + " (scripts/test-setup.sh)"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two replicas behind nginx on PostgreSQL, uploads spooled on a 64 MiB tmpfs where root may mount one."""
    # background timelines get no grace at shutdown: the teardown need not wait for them
    deployment = Stack(tmp_path_factory.mktemp("local-deployment"), settings={"GENREKIT_TIMELINE_SHUTDOWN_WAIT_S": "0"})
    if os.geteuid() == 0:
        deployment.mount_upload_spool(64)
    try:
        deployment.up()
        yield deployment
    finally:
        deployment.down()


@pytest.fixture(scope="module")
def clips() -> list:
    return load_clips(n=4)


def test_every_abuse_case_gets_a_problem_and_the_service_stays_up(stack: Stack, clips: list) -> None:
    report = abuse(stack, clips[0], n_wrong_keys=100, burst=40, burst_key_limit=10)
    wrong = [case for case in report["cases"] if not case["as_promised"]]
    assert not wrong, wrong
    assert report["wrong_keys"]["all_401_problem"] and report["wrong_keys"]["key_echoed"] == 0
    assert report["wrong_keys"]["keys_unchanged"]
    burst = report["rate_limit"]
    # each replica counts a key's classifications on its own: at most the limit per replica passes
    assert burst["statuses"].get("429", 0) > 0 and burst["all_429_problem_with_retry_after"]
    assert burst["statuses"].get("200", 0) <= burst["key_limit_per_minute"] * burst["replicas"]
    assert set(report["ready_after"].values()) == {200} and report["upload_after"] == 200
    assert all(peak is not None and peak < PEAK_RSS_LIMIT_MB for peak in report["peak_rss_mb"].values()), report["peak_rss_mb"]


def test_full_upload_disk_answers_507_and_stores_nothing(stack: Stack, clips: list) -> None:
    report = full_upload_disk(stack, clips[0])
    if "skipped" in report:
        pytest.skip(report["skipped"])
    assert report["answer_when_full"]["status"] == 507 and report["answer_when_full"]["problem"]
    assert report["rows_added_when_full"] == 0 and report["files_left_when_full"] == []
    assert report["status_after_freeing"] == 200


def test_database_restart_gives_503_then_recovers_without_restarting(stack: Stack, clips: list) -> None:
    report = restart_database_under_load(stack, clients=4, duration_s=12.0, clips=clips, down_s=3.0)
    assert report["answers_while_down"], report
    assert all(answer.startswith("503 application/problem+json") for answer in report["answers_while_down"]), report
    assert report["database_unavailable_answers"] > 0
    assert report["ready_again_after_restart_s"] is not None and not report["replicas_restarted"]
    assert report["last_database_unavailable_after_restart_s"] < 10.0, report
    assert report["lost_accepted_uploads"] == 0
    statuses = {failure.split()[1] for failure in report["failures"]}
    assert statuses <= {"503", "502"}, report["failures"]


def test_a_replica_killed_under_load_loses_no_accepted_upload(stack: Stack, clips: list) -> None:
    report = kill_replica_under_load(stack, clients=4, duration_s=12.0, clips=clips, restart=False)
    assert report["uploads_accepted"] > 0
    assert report["lost_accepted_uploads"] == 0, report
