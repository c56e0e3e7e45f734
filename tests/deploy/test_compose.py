"""The compose stack under deploy/compose: valid for docker-compose, wired to the app's
settings, and its Prometheus and Grafana files match the metrics the app exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from genrekit.service.metrics import ServiceMetrics
from tests.deploy.conftest import DEPLOY_DIR, check_app_environment

COMPOSE_DIR = DEPLOY_DIR / "compose"
ENV_EXAMPLE = COMPOSE_DIR / "env.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """compose.yaml as docker-compose resolves it with env.example's values."""
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.skip("docker-compose is not installed (scripts/test-setup.sh installs Debian's as root)")
    result = subprocess.run(
        [docker_compose, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_DIR / "compose.yaml"), "config"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_stack_has_its_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= {"app", "nginx", "db", "prometheus", "grafana"}


def test_postgres_keeps_its_data_in_a_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert any(v.endswith(":/var/lib/postgresql/data:rw") and v.startswith("pgdata") for v in db["volumes"])
    app_env = compose["services"]["app"]["environment"]
    assert app_env["GENREKIT_DATABASE_URL"].startswith("postgresql+psycopg://genrekit:change-me@db:5432/")


def test_app_settings_are_genrekits(compose: dict[str, Any]) -> None:
    check_app_environment(compose["services"]["app"]["environment"])


def test_nginx_and_app_share_the_limits(compose: dict[str, Any]) -> None:
    app_env = compose["services"]["app"]["environment"]
    nginx = compose["services"]["nginx"]
    for name in ("GENREKIT_MAX_UPLOAD_MB", "GENREKIT_JOB_TIMEOUT_S"):
        assert nginx["environment"][name] == app_env[name]
    mounts = {v.split(":")[1]: Path(v.split(":")[0]) for v in nginx["volumes"]}
    assert mounts["/etc/nginx/templates/default.conf.template"].name == "genrekit.conf.template"
    assert mounts["/etc/nginx/templates/default.conf.template"].is_file()
    assert mounts["/docker-entrypoint.d/15-genrekit-limits.envsh"].is_file()


def test_stop_grace_covers_the_longest_job_and_the_timelines(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    drain_s = float(app["environment"]["GENREKIT_JOB_TIMEOUT_S"]) + float(app["environment"]["GENREKIT_TIMELINE_SHUTDOWN_WAIT_S"])
    assert float(app["stop_grace_period"].removesuffix("s")) >= drain_s + 10


def test_app_runs_read_only_and_only_nginx_is_published(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    assert app["read_only"] is True and any(t.startswith("/tmp") for t in app["tmpfs"])
    assert "ports" not in app and "ports" not in compose["services"]["db"]
    assert compose["networks"]["backend"]["internal"] is True
    for service in ("prometheus", "grafana"):
        assert all(str(port).startswith("127.0.0.1:") for port in compose["services"][service]["ports"])


def test_retrain_shares_the_registry_and_reads_its_data(compose: dict[str, Any]) -> None:
    retrain, app = compose["services"]["retrain"], compose["services"]["app"]
    assert retrain["command"] == ["retrain"] and retrain["build"]["target"] == "train"
    check_app_environment(retrain["environment"])
    mounts = {v.split(":")[1]: v for v in retrain["volumes"]}
    assert mounts[retrain["environment"]["GENREKIT_RETRAIN_DATA"]].endswith(":ro")
    registry = retrain["environment"]["GENREKIT_MODEL_REGISTRY"]
    assert mounts[registry].split(":")[0] == "models"
    assert f"models:{registry}:rw" in app["volumes"]


def _exported_metric_names() -> set[str]:
    metrics = ServiceMetrics()
    metrics.requests.labels("GET", "/", "200").inc()
    metrics.request_latency.labels("GET", "/").observe(0.1)
    metrics.inference_time.observe(1.0)
    metrics.classifications.labels("ok").inc()
    text = generate_latest(metrics.registry).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_prometheus_scrapes_the_app() -> None:
    config = yaml.safe_load((DEPLOY_DIR / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["app:8000"]


def test_dashboard_queries_metrics_the_app_exports() -> None:
    dashboard = json.loads((DEPLOY_DIR / "grafana" / "dashboards" / "genrekit.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"genrekit_[a-z_]+", expr)}
    assert len(used) >= 5
    assert used <= _exported_metric_names()
    provider = yaml.safe_load((DEPLOY_DIR / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {provider["datasources"][0]["uid"]}
