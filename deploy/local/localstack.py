"""A real multi-process genrekit deployment on this machine, without containers.

PostgreSQL (Debian's server binaries), two ``genrekit serve`` replicas in key mode on it,
nginx in front (the repository's own template, ``deploy/nginx``) and, where the
``prometheus`` binary exists, Prometheus scraping both replicas' ``/metrics``. The app's
settings are the compose file's (``deploy/compose/compose.yaml``); ``docs/deploy.md`` maps
each piece to its compose and Kubernetes counterpart. Everything listens on 127.0.0.1 only.

    python deploy/local/localstack.py up [--dir DIR] [--replicas 2]   # runs until Ctrl-C

The load generator (``loadgen.py``) and the fault scenarios (``faultcases.py``) use :class:`Stack`
directly. PostgreSQL refuses to run as root: as root, it runs as the ``postgres`` (or
``nobody``) user through ``runuser``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "templates" / "genrekit.conf.template"
NGINX_LIMITS_SCRIPT = REPO_ROOT / "deploy" / "nginx" / "15-genrekit-limits.envsh"
UPSTREAM_PLACEHOLDER = "genrekit-replicas.invalid:1"
READY_TIMEOUT_S = 240.0  # a replica loading its model on a busy 2-core machine

# The compose file's app settings (deploy/compose/compose.yaml, x-app-settings), defaults kept.
COMPOSE_SETTINGS = {
    "GENREKIT_MAX_UPLOAD_MB": "100",
    "GENREKIT_JOB_TIMEOUT_S": "120",
    "GENREKIT_REQUIRE_KEYS": "1",
    "GENREKIT_MAX_CONCURRENT_JOBS": "2",
    "GENREKIT_MAX_QUEUE": "16",
    "GENREKIT_RATE_LIMIT_PER_MINUTE": "60",
    "GENREKIT_DEPLOYMENT": "deployed",
    "GENREKIT_KEEP_AUDIO": "false",
    "GENREKIT_TIMELINE_SHUTDOWN_WAIT_S": "60",
    "GENREKIT_MODEL_POLL_S": "10",
    "FORWARDED_ALLOW_IPS": "*",
}


class StackError(RuntimeError):
    """A part of the deployment could not be started (the reason is the message)."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; raise :class:`StackError` after ``timeout_s`` seconds
    or when ``process`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise StackError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def nginx_binary() -> str | None:
    """The nginx executable, or None."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None)


def postgres_bin_dir() -> Path | None:
    """Directory of the newest PostgreSQL server binaries (``initdb``, ``pg_ctl``), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_parts() -> list[str]:
    """What this machine lacks to run the stack (empty when it can)."""
    missing = []
    if postgres_bin_dir() is None:
        missing.append("PostgreSQL server (apt-get install postgresql)")
    if nginx_binary() is None:
        missing.append("nginx (apt-get install nginx)")
    return missing


def _drop_privileges() -> tuple[list[str], int | None, int | None]:
    """Command prefix running as a non-root user (PostgreSQL refuses root), and its ids."""
    if os.geteuid() != 0:
        return [], None, None
    runuser = shutil.which("runuser")
    for user in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        if runuser:
            return [runuser, "-u", user, "--"], entry.pw_uid, entry.pw_gid
    raise StackError("running as root without a 'postgres' or 'nobody' user and runuser to drop privileges")


@dataclass
class Postgres:
    """A PostgreSQL server in ``root`` on a fixed loopback ``port`` (restartable in place)."""

    root: Path
    port: int
    user: str = "genrekit"
    database: str = "genrekit"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _pg_ctl(self, *args: str, timeout_s: float = 90) -> subprocess.CompletedProcess:
        prefix, _, _ = _drop_privileges()
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None
        return subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            timeout=timeout_s,
        )

    def init(self) -> None:
        """initdb (trust auth on loopback), start, and create the database."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise StackError("no PostgreSQL server binaries (apt-get install postgresql)")
        prefix, uid, gid = _drop_privileges()
        self.root.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            os.chown(self.root, uid, gid)
        done = subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(self.root / "data"), "-U", self.user, "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            timeout=180,
        )
        if done.returncode != 0:
            raise StackError(f"initdb failed: {done.stderr[-500:]}")
        self.start()
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        done = self._pg_ctl("-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            raise StackError(f"PostgreSQL did not start: {done.stderr[-500:]}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` disconnects clients; ``immediate`` is a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")


@dataclass
class Replica:
    """One ``genrekit serve`` process."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The replica's own base URL (bypassing nginx)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Its process id while it runs."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None


@dataclass
class Stack:
    """The whole deployment; :meth:`up` starts it, :meth:`down` stops everything it started."""

    root: Path
    n_replicas: int = 2
    settings: dict[str, str] = field(default_factory=dict)
    tmpdir: Path | None = None  # TMPDIR of the replicas (where uploads are spooled)
    postgres: Postgres | None = None
    replicas: list[Replica] = field(default_factory=list)
    nginx: subprocess.Popen | None = None
    prometheus: subprocess.Popen | None = None
    proxy_port: int = 0
    prometheus_port: int = 0
    admin_key: str = ""

    @property
    def url(self) -> str:
        """nginx's base URL: what clients use."""
        return f"http://127.0.0.1:{self.proxy_port}"

    def app_env(self) -> dict[str, str]:
        """Environment of the replicas and of ``genrekit keys``/``scan`` run against the stack."""
        assert self.postgres is not None
        env = {
            **os.environ,
            **COMPOSE_SETTINGS,
            **self.settings,
            "GENREKIT_DATABASE_URL": self.postgres.url,
            "GENREKIT_DATA_DIR": str(self.root / "data"),
            "GENREKIT_MODEL_REGISTRY": str(self.root / "models"),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        }
        if self.tmpdir is not None:
            env["TMPDIR"] = str(self.tmpdir)
        return env

    def genrekit(self, *args: str, timeout_s: float = 180) -> str:
        """Run ``genrekit ARGS`` against the stack's database; its stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "genrekit", *args], env=self.app_env(), capture_output=True, text=True, timeout=timeout_s
        )
        if done.returncode != 0:
            raise StackError(f"genrekit {' '.join(args)} failed: {done.stderr[-800:]}")
        return done.stdout.strip()

    def create_key(self, role: str = "admin", rate_limit: int | None = None, name: str | None = None) -> str:
        """A new API key's secret (``rate_limit``: classifications per minute, 0 none)."""
        args = ["keys", "create", "--role", role]
        if rate_limit is not None:
            args += ["--rate-limit", str(rate_limit)]
        if name:
            args += ["--name", name]
        return self.genrekit(*args).splitlines()[-1].strip()

    def up(self) -> Stack:
        """Start PostgreSQL, the replicas, nginx and (if installed) Prometheus."""
        missing = missing_parts()
        if missing:
            raise StackError("missing: " + "; ".join(missing))
        self.root.mkdir(parents=True, exist_ok=True)
        # Its own directory under /tmp: the server's user must reach it (the stack's may be private).
        self.postgres = Postgres(Path(tempfile.mkdtemp(prefix="genrekit-local-pg-")), free_port())
        self.postgres.init()
        # Migrations run once, before the replicas race for them.
        self.admin_key = self.create_key("admin", rate_limit=0, name="stack-admin")
        self.replicas = [
            Replica(f"replica-{i + 1}", free_port(), self.root / f"replica-{i + 1}.log") for i in range(self.n_replicas)
        ]
        for replica in self.replicas:
            self.start_replica(replica, wait=False)
        for replica in self.replicas:
            self.wait_ready(replica)
        self._start_nginx()
        self._start_prometheus()
        return self

    def start_replica(self, replica: Replica, *, wait: bool = True) -> None:
        """(Re)start one replica's process; wait for ``/readyz`` unless ``wait`` is False."""
        log = replica.log.open("a")
        replica.process = subprocess.Popen(
            [sys.executable, "-m", "genrekit", "serve", "--host", "127.0.0.1", "--port", str(replica.port)],
            env=self.app_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready(replica)

    def wait_ready(self, replica: Replica) -> None:
        """Wait until ``replica`` answers ``/readyz`` (model loaded, database reachable)."""
        try:
            wait_for_http(f"{replica.url}/readyz", READY_TIMEOUT_S, replica.process)
        except StackError as error:
            raise StackError(f"{replica.name}: {error}\n{replica.log.read_text()[-2000:]}") from error

    def kill_replica(self, replica: Replica) -> None:
        """``kill -9`` the replica's process."""
        if replica.process is not None and replica.process.poll() is None:
            os.kill(replica.process.pid, signal.SIGKILL)
            replica.process.wait(timeout=30)

    def nginx_config(self, directory: Path) -> Path:
        """Render the repository's nginx template for these replicas into ``directory/nginx.conf``."""
        limits = subprocess.run(
            ["sh", "-c", f'. "{NGINX_LIMITS_SCRIPT}" && echo "$GENREKIT_PROXY_BODY_BYTES $GENREKIT_PROXY_TIMEOUT_S"'],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **{k: v for k, v in self.app_env().items() if k.startswith("GENREKIT_")}},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        variables = {
            "GENREKIT_UPSTREAM": UPSTREAM_PLACEHOLDER,
            "NGINX_LISTEN": f"127.0.0.1:{self.proxy_port}",
            "NGINX_CACHE_DIR": str(directory / "cache"),
            "GENREKIT_PROXY_BODY_BYTES": limits[0],
            "GENREKIT_PROXY_TIMEOUT_S": limits[1],
        }
        text = NGINX_TEMPLATE.read_text()
        for name, value in variables.items():
            text = text.replace("${" + name + "}", value)
        # compose and Kubernetes put one service name here; locally each replica is a server line.
        servers = "\n    ".join(f"server 127.0.0.1:{r.port} max_fails=1 fail_timeout=5s;" for r in self.replicas)
        text = text.replace(f"server {UPSTREAM_PLACEHOLDER};", servers)
        server_block = directory / "genrekit.conf"
        server_block.write_text(text)
        temp = {name: directory / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temp.values():
            path.mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        mime = "    include /etc/nginx/mime.types;\n" if Path("/etc/nginx/mime.types").is_file() else ""
        main = directory / "nginx.conf"
        main.write_text(
            f"{user}worker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\nhttp {\n" + mime
            + f"    access_log {directory / 'access.log'};\n"
            + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items())
            + f"    include {server_block};\n}}\n"
        )
        return main

    def route_to(self, replicas: list[Replica]) -> None:
        """Point nginx at ``replicas`` only (config rewritten, then a graceful reload)."""
        if self.nginx is None:
            return
        chosen = list(replicas)
        directory = self.root / "nginx"
        everyone, self.replicas = self.replicas, chosen
        try:
            self.nginx_config(directory)
        finally:
            self.replicas = everyone
        self.nginx.send_signal(signal.SIGHUP)
        time.sleep(1.5)

    def mount_upload_spool(self, size_mb: int) -> bool:
        """Give the replicas a TMPDIR of their own on a ``size_mb`` MiB tmpfs (where uploads are
        spooled), for the full-disk scenario; False where mounting is not allowed (not root)."""
        spool = self.root / "upload-spool"
        spool.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=1777", "tmpfs", str(spool)], capture_output=True)
        if done.returncode != 0:
            return False
        self.tmpdir = spool
        return True

    def _start_nginx(self) -> None:
        nginx = nginx_binary()
        assert nginx is not None
        directory = self.root / "nginx"
        directory.mkdir(exist_ok=True)
        self.proxy_port = free_port()
        config = self.nginx_config(directory)
        checked = subprocess.run([nginx, "-t", "-c", str(config)], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise StackError(f"nginx -t failed: {checked.stderr[-800:]}")
        self.nginx = subprocess.Popen([nginx, "-c", str(config), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        wait_for_http(f"{self.url}/healthz", 30, self.nginx)

    def _start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            return
        directory = self.root / "prometheus"
        directory.mkdir(exist_ok=True)
        self.prometheus_port = free_port()
        targets = ", ".join(f'"127.0.0.1:{r.port}"' for r in self.replicas)
        (directory / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: genrekit\n"
            f"    metrics_path: /metrics\n    static_configs:\n      - targets: [{targets}]\n"
        )
        log = (directory / "prometheus.log").open("w")
        self.prometheus = subprocess.Popen(
            [
                binary,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for_http(f"http://127.0.0.1:{self.prometheus_port}/-/ready", 60, self.prometheus)
        except StackError:
            self.prometheus.kill()
            self.prometheus = None

    def describe(self) -> dict:
        """Ports, process ids and the admin key, as JSON-ready values."""
        return {
            "url": self.url,
            "admin_key": self.admin_key,
            "database_url": self.postgres.url if self.postgres else None,
            "replicas": [{"name": r.name, "url": r.url, "pid": r.pid, "log": str(r.log)} for r in self.replicas],
            "nginx_pid": self.nginx.pid if self.nginx else None,
            "prometheus": f"http://127.0.0.1:{self.prometheus_port}" if self.prometheus else None,
            "root": str(self.root),
        }

    def down(self) -> None:
        """Stop everything this stack started (replicas get SIGTERM, then SIGKILL)."""
        for process in [self.prometheus, self.nginx, *(r.process for r in self.replicas)]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [self.prometheus, self.nginx, *(r.process for r in self.replicas)]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        if self.postgres is not None and (self.postgres.root / "data").exists():
            self.postgres.stop("immediate")
            shutil.rmtree(self.postgres.root, ignore_errors=True)
        if self.tmpdir is not None and os.path.ismount(self.tmpdir):
            subprocess.run(["umount", "-l", str(self.tmpdir)], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    """``localstack.py up``: start the deployment, print its description, run until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--dir", type=Path, default=None, help="state directory (default: a new temporary one)")
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="genrekit-local-"))
    stack = Stack(root, n_replicas=args.replicas)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        stack.up()
        print(json.dumps(stack.describe(), indent=2), flush=True)
        (root / "stack.json").write_text(json.dumps(stack.describe(), indent=2))
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
