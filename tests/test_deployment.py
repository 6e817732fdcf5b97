"""The deployment files agree with the project: the Dockerfile's and compose file's
commands exist and parse, the settings module is right, `docker/init-env` writes a
configuration the app accepts, the compose client validates the file, and gunicorn (with
nginx in front, as compose runs them) serves the app with production settings."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.urls import resolve

from warmup_project import config

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
WORKERS = ("worker-1", "worker-2", "worker-3")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of docker/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DOCKER / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def manage_py_commands(command: Any) -> list[list[str]]:
    """The `python manage.py …` invocations in a compose command (a list, or `sh -c`)."""
    if isinstance(command, str):
        command = shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return [c for part in command[2].split("&&") for c in manage_py_commands(part.strip())]
    assert command[:2] == ["python", "manage.py"], command
    return [command[2:]]


def assert_command_parses(argv: list[str]) -> None:
    name, *args = argv
    app = get_commands().get(name)
    assert app is not None, f"manage.py has no command {name!r}"
    command = load_command_class(app, name)
    command.create_parser("manage.py", name).parse_args(args)


def test_the_dockerfile_runs_the_projects_entry_points() -> None:
    instructions = dockerfile()
    env = " ".join(args for op, args in instructions if op == "ENV")
    # The project's settings, as manage.py and wsgi.py default to (the tests' settings
    # module wraps them with development switches).
    assert "DJANGO_SETTINGS_MODULE=warmup_project.settings" in env
    for entry_point in ("manage.py", "warmup_project/wsgi.py"):
        assert (
            '"DJANGO_SETTINGS_MODULE", "warmup_project.settings"'
            in (ROOT / entry_point).read_text()
        )
    for op, args in instructions:
        if op == "COPY":
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
    # Every package pyproject installs is copied in.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    copied = {args.split()[0] for op, args in instructions if op == "COPY"}
    assert {p.rstrip("*") for p in packages} <= copied
    assert "templates" in copied and "manage.py" in copied

    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "pip install -c constraints.txt" in runs  # pinned
    assert "manage.py collectstatic" in runs
    user = [args for op, args in instructions if op == "USER"]
    assert user and user[-1] not in ("root", "0")

    cmd = json.loads(next(args for op, args in instructions if op == "CMD"))
    assert cmd[0] == "gunicorn"
    module, _, attribute = cmd[1].partition(":")
    from importlib import import_module

    assert callable(getattr(import_module(module), attribute))
    config_module = cmd[cmd.index("--config") + 1].removeprefix("python:")
    gunicorn_config = import_module(config_module)
    assert gunicorn_config.bind.endswith(":8000")

    healthcheck = next(args for op, args in instructions if op == "HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:8000(/[\w/-]*)", healthcheck)
    assert url is not None
    assert resolve(url.group(1)).url_name == "healthz"
    # No secret is baked in.
    assert not re.search(r"SECRET_KEY|WARMUP_SECRET_KEYS|PASSWORD|TOKEN", env)


def test_the_compose_file_runs_the_services_an_operator_needs() -> None:
    spec = compose()
    services = spec["services"]
    assert {
        "postgres",
        "migrate",
        "web",
        *WORKERS,
        "qcluster",
        "nginx",
        "prometheus",
        "grafana",
    } <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])
    app_services = [name for name, s in services.items() if s.get("image") == "warmup:latest"]
    assert set(app_services) == {"migrate", "web", *WORKERS, "qcluster"}
    for name in app_services:
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        assert service["env_file"] == "warmup.env"
        if "command" in service:
            for argv in manage_py_commands(service["command"]):
                assert_command_parses(argv)
        env = service["environment"]
        assert set(env) <= {v.name for v in config.INT_VARS + config.BOOL_VARS} | {
            "DATABASE_URL",
            "WARMUP_WORKER_ID",
            "NUM_PROXIES",
        }
        assert env["WARMUP_DISTRIBUTED_MODE"] == "true"
        assert env["NUM_PROXIES"] == "${NUM_PROXIES:-1}"  # nginx, or 2 behind a balancer
        if name != "migrate":
            assert service["restart"] == "unless-stopped"
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            )
    # Workers 1..N of N, N being the number of worker services.
    ids = sorted(int(services[w]["environment"]["WARMUP_WORKER_ID"]) for w in WORKERS)
    assert ids == [1, 2, 3]
    assert {services[w]["environment"]["WARMUP_WORKER_COUNT"] for w in WORKERS} == {"3"}
    for w in WORKERS:
        assert manage_py_commands(services[w]["command"]) == [["run_warmup"]]
    migrate = manage_py_commands(services["migrate"]["command"])
    assert [argv[0] for argv in migrate] == ["migrate", "collectstatic", "setup_schedules"]
    assert "--senders-run-warmup" in migrate[2]
    assert services["web"].get("command") is None  # the image's gunicorn
    # Healthchecks: the image's for web; the services' own for the rest that serve; the
    # workers' and qcluster's heartbeat through `manage.py engine status --check`.
    for name in ("postgres", "nginx", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    for name in (*WORKERS, "qcluster"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1:5] == ["python", "manage.py", "engine", "status"]
        assert_command_parses(test[3:])
        assert "--check" in test, name
    assert services["qcluster"]["healthcheck"]["test"][-2:] == ["--check", "qcluster"]
    # Every file mounted from docker/ exists (those in secrets/ once init-env has run), and
    # nginx gets the static volume.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./secrets/"):
                assert source == "./secrets/tls", source  # init-env makes it, empty or not
            elif source.startswith("./"):
                assert (DOCKER / source).exists(), source
            else:
                assert source in spec["volumes"], source
    assert "static:/srv/static:ro" in services["nginx"]["volumes"]
    # nginx.conf is the image's template: its resolver is the container's own.
    assert (
        "./nginx.conf:/etc/nginx/templates/default.conf.template:ro"
        in (services["nginx"]["volumes"])
    )
    assert "resolver ${WARMUP_RESOLVER} " in (DOCKER / "nginx.conf").read_text()
    assert (
        "./nginx-resolver.envsh:/docker-entrypoint.d/16-warmup-resolver.envsh:ro"
        in (services["nginx"]["volumes"])
    )

    assert spec["secrets"]["warmup_metrics_token"]["file"] == "./secrets/metrics_token"
    assert "/run/secrets/warmup_metrics_token" in (DOCKER / "prometheus.yml").read_text()
    # Grafana loads the dashboard from where compose mounts it.
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/warmup.yml").read_text())[
        "providers"
    ][0]
    mounts = [v.split(":")[1] for v in services["grafana"]["volumes"]]
    assert f"{provider['options']['path']}/warmup-dashboard.json" in mounts


def test_nginxs_resolver_is_the_first_name_server_of_the_container() -> None:
    """The image's entrypoint sources only executable .envsh files."""
    envsh = DOCKER / "nginx-resolver.envsh"
    assert os.access(envsh, os.X_OK)
    done = subprocess.run(
        ["/bin/sh", "-c", f'. "{envsh}" && printf %s "$WARMUP_RESOLVER"'],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    servers = [
        line.split()[1]
        for line in Path("/etc/resolv.conf").read_text().splitlines()
        if line.startswith("nameserver")
    ]
    first = f"[{servers[0]}]" if ":" in servers[0] else servers[0]
    assert done.stdout == first


def run_init_env(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DOCKER / "init-env"), "--dir", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if not k.startswith("#")}


def test_init_env_writes_a_configuration_the_app_accepts(tmp_path: Path) -> None:
    done = run_init_env(tmp_path, "--host", "warmup.example.com")
    assert done.returncode == 0, done.stderr
    app = read_env(tmp_path / "warmup.env")
    compose_env = read_env(tmp_path / ".env")
    secrets = [app[n] for n in ("SECRET_KEY", "WARMUP_SECRET_KEYS", "WARMUP_METRICS_TOKEN")]
    secrets += [compose_env[n] for n in ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD")]
    assert all(len(secret) >= 24 and secret not in done.stdout for secret in secrets)
    assert (tmp_path / "warmup.env").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    # Every variable of .env.example is there, DATABASE_URL and the shard left to compose.
    example = read_env(ROOT / ".env.example")
    assert set(example) - set(app) == {
        "DATABASE_URL",
        "WARMUP_WORKER_ID",
        "WARMUP_WORKER_COUNT",
        "NUM_PROXIES",
    }
    loaded = config.load({**app, "DATABASE_URL": "postgres://warmup:x@postgres:5432/warmup"})
    assert loaded.problems == () or not any(p.is_error for p in loaded.problems)
    assert loaded.debug is False
    assert "warmup.example.com" in loaded.allowed_hosts and "web" in loaded.allowed_hosts
    assert (tmp_path / "secrets/metrics_token").read_text() == app["WARMUP_METRICS_TOKEN"]
    assert set(compose_env) == {
        "COMPOSE_PROJECT_NAME",
        "POSTGRES_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    }
    # Without a certificate, nginx's TLS directory is there and empty: plain HTTP only.
    assert list((tmp_path / "secrets/tls").iterdir()) == []
    # A second run keeps the keys it would otherwise destroy.
    again = run_init_env(tmp_path, "--host", "other.example.com")
    assert again.returncode == 1 and "--force" in again.stderr
    assert read_env(tmp_path / "warmup.env") == app


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_init_env_with_a_certificate_turns_on_nginxs_https(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    docker = tmp_path / "docker"
    done = run_init_env(
        docker, "--host", "localhost", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    assert done.returncode == 0, done.stderr
    tls = docker / "secrets/tls"
    assert (tls / "fullchain.pem").read_bytes() == cert.read_bytes()
    assert (tls / "privkey.pem").read_bytes() == key.read_bytes()
    assert (tls / "privkey.pem").stat().st_mode & 0o777 == 0o600
    assert "include /etc/nginx/warmup-tls.conf;" in (tls / "https.conf").read_text()
    assert key.read_text() not in done.stdout + done.stderr
    # HTTPS means the app's own redirect, HSTS and Secure cookies stay on.
    assert read_env(docker / "warmup.env")["SECURE_SSL_REDIRECT"] == "true"
    # Given again for a configured host: the certificate changes, the keys stay.
    app = read_env(docker / "warmup.env")
    again = run_init_env(
        docker, "--host", "localhost", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    assert again.returncode == 0 and read_env(docker / "warmup.env") == app
    for wrong, error in (
        (["--tls-cert", str(cert)], "--tls-cert and --tls-key go together"),
        (["--tls-cert", str(cert), "--tls-key", str(key), "--plain-http"], "cannot go with"),
        (["--tls-cert", str(ROOT / "README.md"), "--tls-key", str(key)], "is not a PEM file"),
    ):
        refused = run_init_env(tmp_path / "other", "--host", "localhost", *wrong)
        assert refused.returncode == 2 and error in refused.stderr, refused.stderr
        assert not (tmp_path / "other/warmup.env").exists()


def compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(
    compose_client() is None,
    reason="needs `docker compose` or docker-compose (.ci/run installs it)",
)
def test_the_compose_client_validates_the_file(tmp_path: Path) -> None:
    """`config` resolves the anchors, the .env files and the interpolations, and checks the
    result against the Compose schema, with no Docker engine."""
    shutil.copytree(
        DOCKER, tmp_path / "docker", ignore=shutil.ignore_patterns(".env", "warmup.env", "secrets")
    )
    assert run_init_env(tmp_path / "docker", "--host", "warmup.example.com").returncode == 0
    client = compose_client() or []
    done = subprocess.run(
        [*client, "-f", "docker/compose.yaml", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    password = read_env(tmp_path / "docker/.env")["POSTGRES_PASSWORD"]
    for worker, shard in zip(WORKERS, ("1", "2", "3"), strict=True):
        env = resolved["services"][worker]["environment"]
        assert str(env["WARMUP_WORKER_ID"]) == shard
        assert env["DATABASE_URL"] == f"postgres://warmup:{password}@postgres:5432/warmup"
        assert env["DEBUG"] == "false"
        assert "GRAFANA_ADMIN_PASSWORD" not in env  # compose's own secrets stay compose's
    assert resolved["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == password


# --- gunicorn with production settings, nginx in front --------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {process.communicate()[0][-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on {port}")


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Host": "127.0.0.1", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=all_headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, payload


PRODUCTION_SECRET_KEY = "a-production-like-secret-key-for-the-gunicorn-test-0123456789"
METRICS_TOKEN = "metrics-token-for-the-gunicorn-test-0123"


@contextlib.contextmanager
def gunicorn(workers: int = 2, overrides: dict[str, str] | None = None) -> Iterator[int]:
    """gunicorn as the image runs it (its CMD), DEBUG off, on the test database (which the
    caller must have committed to: transactional_db), its environment with `overrides`;
    yields its port. No secret of its environment may reach its log."""
    from cryptography.fernet import Fernet

    from tests.test_run_warmup import database_url

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "warmup_project.settings",  # not the tests' settings
        "DEBUG": "false",
        "SECRET_KEY": PRODUCTION_SECRET_KEY,
        "WARMUP_SECRET_KEYS": Fernet.generate_key().decode(),
        "WARMUP_METRICS_TOKEN": METRICS_TOKEN,
        "ALLOWED_HOSTS": "127.0.0.1,warmup.test",
        "DATABASE_URL": database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        **(overrides or {}),
    }
    cmd = json.loads(next(args for op, args in dockerfile() if op == "CMD"))
    executable = str(Path(sys.executable).parent / cmd[0])
    process = subprocess.Popen(
        [executable, *cmd[1:]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process, "gunicorn")
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        # Nothing secret reaches the log.
        for secret in (METRICS_TOKEN, env["SECRET_KEY"], env["WARMUP_SECRET_KEYS"]):
            assert secret not in output


@pytest.fixture
def production_server(transactional_db: Any) -> Iterator[dict[str, Any]]:
    with gunicorn() as port:
        yield {"port": port, "token": METRICS_TOKEN}


def make_user_with_mailbox(make_mailbox: Any) -> tuple[str, str]:
    """A user whose password the server (default hashers, unlike the tests') can check."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    box = make_mailbox()
    password = "a-long-user-password-42"
    box.owner.password = PBKDF2PasswordHasher().encode(password, "gunicorntestsalt")
    box.owner.save()
    return box.owner.username, password


def bearer(port: int, username: str, password: str) -> dict[str, str]:
    """The headers of a request as the user, with a JWT from the server on `port` (and the
    scheme nginx would pass on)."""
    https = {"X-Forwarded-Proto": "https"}
    status, _, body = request(
        port,
        "POST",
        "/api/auth/token/",
        body={"username": username, "password": password},
        headers=https,
    )
    assert status == 200, body
    return {**https, "Authorization": f"Bearer {json.loads(body)['access']}"}


def assert_the_api_answers(port: int, username: str, password: str) -> None:
    """A token for the user, then their quota (nothing planned yet today) and mailbox."""
    auth = bearer(port, username, password)
    status, _, body = request(port, "GET", "/api/warmup/quota", headers=auth)
    assert status == 200 and json.loads(body)["results"] == [], body
    status, _, body = request(port, "GET", "/api/mailboxes/", headers=auth)
    assert status == 200 and json.loads(body)["count"] == 1, body


def test_gunicorn_serves_the_app_with_production_settings(
    production_server: dict[str, Any], make_mailbox: Any
) -> None:
    port = production_server["port"]
    username, password = make_user_with_mailbox(make_mailbox)
    https = {"X-Forwarded-Proto": "https"}  # as nginx or the load balancer says

    assert request(port, "GET", "/healthz")[0] == 200  # plain HTTP: the health check
    status, headers, _ = request(port, "GET", "/admin/login/")
    assert status == 301 and headers["location"] == "https://127.0.0.1/admin/login/"
    status, headers, page = request(port, "GET", "/admin/login/", headers=https)
    assert status == 200 and b"Warmup operations" in page
    assert "secure" in headers["set-cookie"].lower()  # the CSRF cookie
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert request(port, "GET", "/admin/login/", headers={**https, "Host": "evil.test"})[0] == 400

    assert_the_api_answers(port, username, password)
    # Prometheus scrapes over the internal network, in plain HTTP, with the token.
    scrape = {"Authorization": f"Bearer {production_server['token']}"}
    status, _, body = request(port, "GET", "/api/warmup/metrics?format=prometheus", headers=scrape)
    assert status == 200 and b"warmup_total_mailboxes 1" in body
    # django-prometheus's counters are summed over gunicorn's processes (multiprocess mode):
    # whichever process answers a scrape, the count only grows and includes every request.
    for _ in range(10):
        request(port, "GET", "/healthz")
    seen = []
    assert request(port, "GET", "/metrics")[0] == 401  # the same token as the app's metrics
    for _ in range(4):
        status, _, body = request(port, "GET", "/metrics", headers=scrape)
        assert status == 200
        match = re.search(
            rb'django_http_requests_total_by_method_total\{method="GET"\} (\S+)', body
        )
        assert match is not None, body[:2000]
        seen.append(float(match.group(1)))
    assert seen == sorted(seen) and seen[0] >= 10 + 5, seen
    # An error page tells nothing of the internals with DEBUG off.
    status, _, body = request(port, "GET", "/no-such-page", headers=https)
    assert status == 404 and b"Traceback" not in body and b"urlpatterns" not in body


LOAD_BALANCER_LINE = "proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;"


def nginx_server(
    listen: int, upstream: int, *, behind_load_balancer: bool, tls_dir: Path | None = None
) -> str:
    """docker/nginx.conf's server, pointed at local ports; behind a load balancer with the
    change its comment describes; HTTPS with the files of `tls_dir` as compose mounts them."""
    server = (
        (DOCKER / "nginx.conf")
        .read_text()
        .replace(
            "set $warmup_web http://web:8000;", f"set $warmup_web http://127.0.0.1:{upstream};"
        )
        .replace("listen 80 default_server;", f"listen 127.0.0.1:{listen};")
        .replace("alias /srv/static/;", f"alias {ROOT / 'var' / 'static'}/;")
        # The nginx image's entrypoint puts the container's DNS server here.
        .replace("${WARMUP_RESOLVER}", "127.0.0.1")
        .replace("include /etc/nginx/tls/*.conf;", f"include {tls_dir or '/nonexistent'}/*.conf;")
    )
    assert f"127.0.0.1:{upstream}" in server and f"127.0.0.1:{listen}" in server
    if behind_load_balancer:
        assert LOAD_BALANCER_LINE in server
        server = server.replace("proxy_set_header X-Forwarded-Proto $scheme;", LOAD_BALANCER_LINE)
    return server


def nginx_config(tmp_path: Path, servers: list[str]) -> Path:
    """nginx's whole configuration around docker/nginx.conf's servers, in tmp_path."""
    for n, server in enumerate(servers):
        (tmp_path / f"server{n}.conf").write_text(server)
    path = tmp_path / "nginx.conf"
    path.write_text(
        f"""
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp_path}/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/server*.conf;
}}
"""
    )
    return path


@pytest.mark.skipif(not shutil.which("nginx"), reason="needs nginx (.ci/run installs it)")
def test_nginx_in_front_serves_static_files_and_keeps_metrics_private(
    production_server: dict[str, Any], make_mailbox: Any, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    port, behind_lb, tls_port = free_port(), free_port(), free_port()
    upstream = production_server["port"]
    # HTTPS as `init-env --tls-cert … --tls-key …` sets it up, the paths compose mounts
    # pointed at tmp_path.
    cert, key = self_signed(tmp_path)
    docker = tmp_path / "docker"
    done = run_init_env(
        docker, "--host", "127.0.0.1", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    assert done.returncode == 0, done.stderr
    tls_dir = docker / "secrets/tls"
    (tmp_path / "warmup-tls.conf").write_text(
        (DOCKER / "nginx-tls.conf")
        .read_text()
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
        .replace("/etc/nginx/tls/", f"{tls_dir}/")
    )
    https_conf = tls_dir / "https.conf"
    https_conf.write_text(
        https_conf.read_text().replace("/etc/nginx/warmup-tls.conf", f"{tmp_path}/warmup-tls.conf")
    )
    conf = nginx_config(
        tmp_path,
        [
            nginx_server(port, upstream, behind_load_balancer=False, tls_dir=tls_dir),
            nginx_server(behind_lb, upstream, behind_load_balancer=True),
        ],
    )
    nginx = shutil.which("nginx") or "nginx"
    check = subprocess.run([nginx, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [nginx, "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, process, "nginx")
        wait_for_port(behind_lb, process, "nginx")
        username, password = make_user_with_mailbox(make_mailbox)
        assert request(port, "GET", "/nginx-health")[0] == 200
        status, headers, css = request(port, "GET", "/static/admin/css/base.css")
        assert status == 200 and headers["content-type"] == "text/css" and b"body" in css
        swagger = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"
        assert request(port, "GET", swagger)[0] == 200
        assert request(port, "GET", "/metrics")[0] == 404  # django-prometheus stays inside
        assert request(port, "GET", "/healthz")[0] == 200
        # Plain HTTP at nginx: the app sends the browser to HTTPS, whatever the client says.
        https = {"X-Forwarded-Proto": "https"}
        for headers in ({}, https):
            status, answer, _ = request(port, "GET", "/admin/login/", headers=headers)
            assert status == 301 and answer["location"] == "https://127.0.0.1/admin/login/"
        # Behind a TLS load balancer, which sets X-Forwarded-Proto: served.
        status, _, page = request(behind_lb, "GET", "/admin/login/", headers=https)
        assert status == 200 and b"Warmup operations" in page
        assert request(behind_lb, "GET", "/admin/login/")[0] == 301
        assert_the_api_answers(behind_lb, username, password)

        # HTTPS on the same server, with the app's HSTS. (TLS 1.1 cannot be tried here:
        # Debian's OpenSSL refuses it whatever nginx allows; the file says 1.2 and 1.3.)
        assert "ssl_protocols TLSv1.2 TLSv1.3;" in (DOCKER / "nginx-tls.conf").read_text()
        wait_for_port(tls_port, process, "nginx (TLS)")
        context = ssl.create_default_context(cafile=str(cert))
        connection = http.client.HTTPSConnection("127.0.0.1", tls_port, context=context)
        connection.request("GET", "/admin/login/", headers={"Host": "127.0.0.1"})
        response = connection.getresponse()
        assert response.status == 200 and b"Warmup operations" in response.read()
        assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")
        assert connection.sock.version() in ("TLSv1.2", "TLSv1.3")
        connection.close()
    finally:
        process.send_signal(signal.SIGQUIT)
        process.communicate(timeout=30)


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5"])
def test_gunicorn_refuses_a_bad_process_count_with_one_line(value: str) -> None:
    # gunicorn loads its settings module before Django: a bad count must name the
    # variable, not end in a ValueError traceback.
    env = {**os.environ, "GUNICORN_WORKERS": value}
    done = subprocess.run(
        [sys.executable, "-c", "import warmup_project.gunicorn"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert f"GUNICORN_WORKERS={value!r}: must be a whole number of 1 or more." in done.stderr
    assert "Traceback" not in done.stderr


def test_gunicorn_takes_its_process_counts_from_the_environment() -> None:
    env = {**os.environ, "GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "5"}
    done = subprocess.run(
        [sys.executable, "-c", "import warmup_project.gunicorn as g; print(g.workers, g.threads)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.split() == ["3", "5"], done.stderr
