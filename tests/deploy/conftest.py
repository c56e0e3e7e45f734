"""Helpers of the deployment tests: repository paths, free ports, waiting for HTTP, and
rendering the nginx template the way the nginx image does."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))
from localstack import free_port, wait_for_http  # noqa: E402  (deploy/local is a folder of scripts)

DEPLOY_DIR = REPO_ROOT / "deploy"
NGINX_TEMPLATE = DEPLOY_DIR / "nginx" / "templates" / "genrekit.conf.template"
NGINX_LIMITS_SCRIPT = DEPLOY_DIR / "nginx" / "15-genrekit-limits.envsh"
TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def song_wav(duration_s: float, sr: int = 22050, freq_hz: float = 220.0) -> bytes:
    """A WAV file (16-bit mono): a tremolo tone with an overtone, ``duration_s`` seconds long."""
    t = np.arange(int(duration_s * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq_hz * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.05 * np.sin(2 * np.pi * 8 * freq_hz * t)
    buffer = io.BytesIO()
    sf.write(buffer, y.astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def multipart_upload(filename: str, data: bytes) -> tuple[bytes, str]:
    """The body and Content-Type of a ``POST /api/v1/classify`` upload (field ``file``)."""
    boundary = "genrekit-deploy-test"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def proxy_limits(app_env: dict[str, str]) -> dict[str, str]:
    """The variables ``15-genrekit-limits.envsh`` derives from the app's settings in ``app_env``."""
    names = ("GENREKIT_PROXY_BODY_BYTES", "GENREKIT_PROXY_TIMEOUT_S")
    printed = subprocess.run(
        ["sh", "-c", f'. "{NGINX_LIMITS_SCRIPT}" && ' + " && ".join(f'echo "${name}"' for name in names)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **app_env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return dict(zip(names, printed, strict=True))


def render_template(text: str, variables: dict[str, str]) -> str:
    """Substitute ``${NAME}`` as the nginx image's envsubst step does; every name must be given."""
    missing = sorted(set(TEMPLATE_VARIABLE.findall(text)) - set(variables))
    if missing:
        raise KeyError(f"template variables without a value: {missing}")
    return TEMPLATE_VARIABLE.sub(lambda match: variables[match.group(1)], text)


def write_nginx_config(
    directory: Path, *, upstream: str, listen_port: int, app_env: dict[str, str]
) -> Path:
    """Render the genrekit server block into a self-contained nginx.conf under ``directory``.

    The wrapper plays the part of the nginx image's main config: the server block is
    included in ``http``, and every path nginx writes is inside ``directory``.
    """
    variables = {
        "GENREKIT_UPSTREAM": upstream,
        "NGINX_LISTEN": f"127.0.0.1:{listen_port}",
        "NGINX_CACHE_DIR": str(directory / "cache"),
        **proxy_limits(app_env),
    }
    server_block = directory / "genrekit.conf"
    server_block.write_text(render_template(NGINX_TEMPLATE.read_text(), variables))
    temp = {name: directory / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    mime_types = Path("/etc/nginx/mime.types")
    main = directory / "nginx.conf"
    main.write_text(
        f"{user}worker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 64; }\nhttp {\n"
        + (f"    include {mime_types};\n" if mime_types.is_file() else "")
        + f"    access_log {directory / 'access.log'};\n"
        + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items())
        + f"    include {server_block};\n}}\n"
    )
    return main


# Variables the deploy files set that are not fields of genrekit.service.Settings: uvicorn's
# trusted proxies, and the base training data of `genrekit retrain`.
SETTINGS_OUTSIDE_THE_SERVICE = {"FORWARDED_ALLOW_IPS", "GENREKIT_RETRAIN_DATA"}


def check_app_environment(environment: dict[str, str]) -> None:
    """Fail unless every variable is a known setting and the service's ones are valid values."""
    from genrekit.service import Settings

    known = {f"GENREKIT_{name.upper()}" for name in Settings.model_fields}
    unknown = set(environment) - known - SETTINGS_OUTSIDE_THE_SERVICE
    assert not unknown, f"not settings of genrekit: {sorted(unknown)}"
    Settings(**{k.removeprefix("GENREKIT_").lower(): v for k, v in environment.items() if k in known})
