"""The Kubernetes base under deploy/kubernetes/base: rendered, validated against the
Kubernetes schemas (kubernetes-validate), scanned by checkov, and checked against the app's
own settings and routes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from genrekit.service import Settings, create_app
from genrekit.service.intake.uploads import MULTIPART_OVERHEAD_BYTES
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import check_app_environment

KUBERNETES_DIR = REPO_ROOT / "deploy" / "kubernetes"
BASE = KUBERNETES_DIR / "base"
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")  # oldest and newest minor versions the base is checked against
CHECKOV_SKIPS = {
    # The base cannot know the digest of an image the operator builds: the overlay pins it
    # (docs/deploy.md, `images: - digest:`).
    "CKV_K8S_43": "image digests are set by the operator's overlay",
    # genrekit reads its settings, the database URL included, from environment variables.
    "CKV_K8S_35": "the app reads GENREKIT_DATABASE_URL from the environment only",
}


def app_paths() -> set[str]:
    """Every path the app serves: its routes and mounts, and the operations of its schema."""
    app = create_app(Settings())
    return {route.path for route in app.routes if hasattr(route, "path")} | set(app.openapi()["paths"])


def render_base(base: Path = BASE) -> list[dict[str, Any]]:
    """The documents ``kubectl kustomize`` renders from a base made only of ``resources``."""
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - {"apiVersion", "kind", "resources"}
    if unsupported:
        raise ValueError(f"the base must stay plain resources; this renderer does not apply {sorted(unsupported)}")
    documents: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        documents.extend(doc for doc in yaml.safe_load_all((base / name).read_text()) if doc)
    return documents


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return render_base()


def _one(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def test_every_manifest_file_is_listed_in_the_kustomization() -> None:
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_the_base_has_every_required_kind(documents: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in documents}
    assert kinds >= {
        "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "ConfigMap", "Secret", "CronJob", "PersistentVolumeClaim",
    }  # fmt: skip


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_match_the_kubernetes_schemas(documents: list[dict[str, Any]], version: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_schema_validation_catches_a_mistake(documents: list[dict[str, Any]]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")
    broken = json.loads(json.dumps(_one(documents, "Deployment")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_rendering_matches_kubectl_kustomize(documents: list[dict[str, Any]]) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the plain-resources renderer is checked against it only where it is")
    rendered = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True, timeout=60)
    if rendered.returncode != 0:
        pytest.skip(f"kubectl kustomize cannot run here: {rendered.stderr.strip()[:200]}")
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(yaml.safe_load_all(rendered.stdout), key=key) == sorted(documents, key=key)


def _container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(documents, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_probes_hit_the_apps_health_routes(documents: list[dict[str, Any]]) -> None:
    container = _container(documents)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz"} <= app_paths()


def test_grace_period_covers_prestop_the_longest_job_and_the_timelines(documents: list[dict[str, Any]]) -> None:
    pod = _one(documents, "Deployment")["spec"]["template"]["spec"]
    config = _one(documents, "ConfigMap")["data"]
    pre_stop_s = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    longest_drain_s = float(config["GENREKIT_JOB_TIMEOUT_S"]) + float(config["GENREKIT_TIMELINE_SHUTDOWN_WAIT_S"])
    assert pod["terminationGracePeriodSeconds"] >= pre_stop_s + longest_drain_s + 10


def test_containers_are_locked_down(documents: list[dict[str, Any]]) -> None:
    pods = [_one(documents, "Deployment")["spec"]["template"]["spec"]]
    pods.append(_one(documents, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
            assert "/tmp" in {mount["mountPath"] for mount in container["volumeMounts"]}


def test_ingress_body_size_and_timeouts_follow_the_app_settings(documents: list[dict[str, Any]]) -> None:
    config = _one(documents, "ConfigMap")["data"]
    annotations = _one(documents, "Ingress")["metadata"]["annotations"]
    settings = Settings(max_upload_mb=float(config["GENREKIT_MAX_UPLOAD_MB"]))
    body_size = int(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    assert body_size == settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= float(config["GENREKIT_JOB_TIMEOUT_S"])


def test_configmap_holds_only_known_settings(documents: list[dict[str, Any]]) -> None:
    check_app_environment(_one(documents, "ConfigMap")["data"])


def test_retrain_job_sees_its_data_and_the_registry(documents: list[dict[str, Any]]) -> None:
    config = _one(documents, "ConfigMap")["data"]
    pod = _one(documents, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["retrain"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[config["GENREKIT_RETRAIN_DATA"]].get("readOnly") is True
    assert config["GENREKIT_MODEL_REGISTRY"] in mounts
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    app_pod = _one(documents, "Deployment")["spec"]["template"]["spec"]
    app_claims = {v["persistentVolumeClaim"]["claimName"] for v in app_pod["volumes"] if "persistentVolumeClaim" in v}
    registry_claim = claims[mounts[config["GENREKIT_MODEL_REGISTRY"]]["name"]]
    assert registry_claim in app_claims  # the job promotes into the volume the app serves from
    assert "ReadWriteMany" in _one(documents, "PersistentVolumeClaim", registry_claim)["spec"]["accessModes"]


def _ingress_paths(documents: list[dict[str, Any]]) -> list[tuple[str, str]]:
    rules = _one(documents, "Ingress")["spec"]["rules"]
    return [(p["path"], p["pathType"]) for rule in rules for p in rule["http"]["paths"]]


def _routed(path: str, ingress_paths: list[tuple[str, str]]) -> bool:
    return any(
        path == prefix if kind == "Exact" else path == prefix or path.startswith(prefix.rstrip("/") + "/")
        for prefix, kind in ingress_paths
    )


def test_ingress_routes_every_public_route_and_hides_metrics(documents: list[dict[str, Any]]) -> None:
    paths = _ingress_paths(documents)
    internal = {"/metrics", "/healthz", "/readyz"}
    for route_path in sorted(app_paths()):
        if route_path in internal:
            assert not _routed(route_path, paths), f"{route_path} must stay inside the cluster"
        else:
            assert _routed(route_path, paths), f"the Ingress does not route {route_path}"


def test_checkov_finds_nothing(tmp_path: Path) -> None:
    checkov = _tool("checkov")
    if checkov is None:
        pytest.skip("checkov is not installed (scripts/test-setup.sh installs it into .venv-tools/checkov)")
    result = subprocess.run(
        [checkov, "-d", str(BASE), "--framework", "kubernetes", "--skip-download", "--quiet", "--compact",
         "--skip-check", ",".join(CHECKOV_SKIPS), "-o", "json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert summary["passed"] > 50
    assert failed == [], failed


def _tool(name: str) -> str | None:
    """A command from the tools venv scripts/test-setup.sh makes, or from PATH."""
    candidate = REPO_ROOT / ".venv-tools" / name / "bin" / name
    return str(candidate) if candidate.is_file() else shutil.which(name)
