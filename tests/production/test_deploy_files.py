"""The deployment files are usable as they are: they parse, they name what exists, and their
limits are the store's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from django.conf import settings

from tests.production.test_settings import BASE, PRODUCTION_ENV, read_env_file
from tests.storefront.test_docs import settings_variables

DEPLOY = BASE / "deploy"
NGINX = (DEPLOY / "nginx" / "storefront.conf").read_text()


def test_the_production_environment_names_only_variables_the_store_reads():
    assert set(read_env_file(PRODUCTION_ENV)) <= settings_variables()


def test_the_procfile_runs_the_store_the_worker_and_the_migrations():
    processes = dict(
        line.split(": ", 1) for line in (BASE / "Procfile").read_text().splitlines() if line
    )
    assert set(processes) == {"release", "web", "worker"}
    assert "python -m storefront.serve" in processes["web"]
    assert "storefront.asgi:application" in processes["web"]
    assert processes["worker"] == "python manage.py worker"
    assert "migrate --no-input" in processes["release"]


def _location(pattern: str) -> str:
    match = re.search(r"location " + pattern + r" \{(.*?)\n    \}", NGINX, flags=re.S)
    assert match, pattern
    return match.group(1)


def _kib(block: str) -> int:
    match = re.search(r"client_max_body_size (\d+)([km]);", block)
    assert match, block
    return int(match.group(1)) * (1024 if match.group(2) == "k" else 1024 * 1024)


def test_nginx_limits_each_location_like_the_store_does():
    assert _kib(_location(re.escape("/webhooks/"))) == settings.WEBHOOK_MAX_BODY_BYTES
    assert _kib(_location(re.escape("= /generate-payment-link"))) == 4096
    assert _kib(_location(re.escape("~ ^/orders/[^/]+/confirm/?$"))) == 4096
    server_wide = re.search(r"\n    client_max_body_size (\d+)m;", NGINX)
    assert server_wide
    assert int(server_wide.group(1)) * 1024 * 1024 >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_nginx_serves_product_photos_and_takes_the_product_forms_upload():
    from orders.photos import photo_upload_body_limit

    media = _location(re.escape("/media/"))
    production = read_env_file(PRODUCTION_ENV)
    assert production["MEDIA_STORAGE"] == "files"
    assert f"alias {production['MEDIA_ROOT'].rstrip('/')}/;" in media
    assert 'X-Content-Type-Options "nosniff"' in media
    assert "proxy_pass" not in media
    unit = (DEPLOY / "systemd" / "storefront@.service").read_text()
    assert f"StateDirectory={production['MEDIA_ROOT'].rsplit('/', 1)[1]}\n" in unit
    form = _location(re.escape("~ ^/admin/orders/product/(add|[0-9]+/change)/$"))
    assert _kib(form) == photo_upload_body_limit()
    for path in ("/admin/orders/product/add/", "/admin/orders/product/12/change/"):
        assert re.match(r"^/admin/orders/product/(add|[0-9]+/change)/$", path)


def test_nginx_terminates_tls_passes_websockets_and_the_proxy_headers():
    assert "listen 443 ssl" in NGINX
    assert "return 301 https://$host$request_uri;" in NGINX
    assert "ssl_certificate " in NGINX
    sockets = _location(re.escape("/ws/"))
    for header in ("Upgrade $http_upgrade", "Connection $connection_upgrade"):
        assert f"proxy_set_header {header};" in sockets
    # A location with its own proxy_set_header inherits none: the socket needs all of them.
    for header in (
        "Host $host",
        "X-Forwarded-For $proxy_add_x_forwarded_for",
        "X-Forwarded-Proto $scheme",
        "X-Request-ID $request_id",
    ):
        assert f"proxy_set_header {header};" in NGINX
        assert f"proxy_set_header {header};" in sockets
    for timeout in ("client_body_timeout", "proxy_read_timeout", "proxy_connect_timeout"):
        assert timeout in NGINX
    assert NGINX.count("{") == NGINX.count("}")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_systemd_units_verify(tmp_path):
    units = []
    for source, name in (
        ("storefront@.service", "storefront@8001.service"),
        ("storefront-worker@.service", "storefront-worker@1.service"),
        ("storefront.target", "storefront.target"),
    ):
        text = (DEPLOY / "systemd" / source).read_text()
        # This checkout stands in for /srv/storefront, so the commands exist.
        (tmp_path / name).write_text(text.replace("/srv/storefront", str(BASE)))
        units.append(str(tmp_path / name))
    result = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_the_units_run_the_store_and_the_worker_as_an_unprivileged_user():
    store = (DEPLOY / "systemd" / "storefront@.service").read_text()
    worker = (DEPLOY / "systemd" / "storefront-worker@.service").read_text()
    assert "-m storefront.serve -b 127.0.0.1 -p %i storefront.asgi:application" in store
    assert "manage.py worker" in worker
    for unit in (store, worker):
        assert "User=storefront" in unit
        assert "EnvironmentFile=/etc/storefront/storefront.env" in unit
        assert "KillSignal=SIGTERM" in unit


def test_the_image_runs_as_a_non_root_user():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert users == ["storefront"]
    assert dockerfile.index("USER storefront") > dockerfile.index("collectstatic")
    assert '"storefront.serve"' in dockerfile
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert "!storefront" in ignore.splitlines()
    assert ".run" not in [line.strip("!/") for line in ignore.splitlines()]
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.M):
        assert (BASE / copied).exists(), copied


def test_compose_runs_postgresql_redis_the_migrations_two_stores_and_workers():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["migrate"]["command"][-2:] == ["migrate", "--no-input"]
    for name in ("web1", "web2", "worker"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["env_file"] == "storefront.env"
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
    assert (
        services["worker"]["command"][-1] == 'exec python manage.py worker --worker-id "$$HOSTNAME"'
    )
    assert services["worker"]["deploy"]["replicas"] == 2
    assert [services[n]["ports"] for n in ("web1", "web2")] == [
        ["127.0.0.1:8001:8000"],
        ["127.0.0.1:8002:8000"],
    ]
    assert "server 127.0.0.1:8002 " in NGINX  # the same nginx site
    ignored = subprocess.run(
        ["git", "check-ignore", "deploy/storefront.env", "deploy/.env"],
        cwd=BASE,
        capture_output=True,
        text=True,
    )
    # The filled-in copies, with secrets, are never committed.
    assert ignored.stdout.split() == ["deploy/storefront.env", "deploy/.env"]


def test_the_docs_document_every_deployment_file():
    """docs/deployment.md names every file of deploy/ and ends with the checklist; the backups
    are in docs/operations.md; the README leads to both."""
    deployment = (BASE / "docs/deployment.md").read_text()
    operations = (BASE / "docs/operations.md").read_text()
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            relative = path.relative_to(BASE).as_posix()
            named = relative in deployment or f"deploy/{path.parent.name}/" in deployment
            assert named or path.name in deployment, relative
    assert "Procfile" in deployment
    assert "## Checklist" in deployment
    assert "## Backups and restore" in operations
    assert "pg_dump -Fc" in operations
    assert "pg_restore --clean" in operations
    readme = (BASE / "README.md").read_text()
    assert "(docs/deployment.md)" in readme
    assert "(docs/operations.md" in readme


# --- health and metrics ---------------------------------------------------------------------------


def test_the_image_checks_that_the_store_answers_healthz():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    check = re.search(r"^HEALTHCHECK [^\n]*\\\n\s+CMD (\[[^\n]*\])$", dockerfile, flags=re.M)
    assert check, "no HEALTHCHECK"
    command = json.loads(check.group(1))
    assert command[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/healthz" in command[2]
    assert dockerfile.index("HEALTHCHECK") > dockerfile.index("USER storefront")


def test_compose_checks_each_workers_own_heartbeat_and_shares_the_metrics():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    worker = services["worker"]
    assert '--worker-id "$$HOSTNAME"' in worker["command"][-1]
    assert worker["healthcheck"]["test"] == [
        "CMD-SHELL",
        'python manage.py readiness --worker "$$HOSTNAME"',
    ]
    for name in ("web1", "web2", "worker"):
        service = services[name]
        assert "metrics:/app/.run/metrics" in service["volumes"]
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/app/.run/metrics"
        assert "healthcheck" not in service or name == "worker"  # the stores: the image's
    assert compose["volumes"]["metrics"]["driver_opts"]["type"] == "tmpfs"


def test_the_units_share_a_metrics_directory_and_say_how_to_check_health():
    for unit in ("storefront@.service", "storefront-worker@.service"):
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/storefront-metrics" in text
        assert "RuntimeDirectory=storefront-metrics" in text
        assert "RuntimeDirectoryPreserve=yes" in text
    store = (DEPLOY / "systemd" / "storefront@.service").read_text()
    assert "curl -fsS http://127.0.0.1:8001/healthz" in store
    assert "/readyz" in store
    worker = (DEPLOY / "systemd" / "storefront-worker@.service").read_text()
    assert "readiness --worker" in worker


def test_nginx_opens_healthz_keeps_readyz_and_metrics_in():
    assert "proxy_pass" in _location(re.escape("= /healthz"))
    readyz = _location(re.escape("= /readyz"))
    assert "deny all;" in readyz
    assert "allow 127.0.0.1;" in readyz
    assert _location(re.escape("= /metrics")).strip() == "return 404;"
    assert _kib(_location(re.escape("= /csp-report/"))) == settings.CSP_REPORT_MAX_BYTES


def metric_names_exported(client) -> set[str]:
    settings.METRICS_TOKEN  # noqa: B018 - set by the caller's fixture
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}")
    assert text.status_code == 200
    return set(re.findall(r"^# HELP (\S+)", text.content.decode(), flags=re.M))


@pytest.mark.django_db
def test_the_grafana_dashboard_shows_only_metrics_the_store_exports(client, settings):
    settings.METRICS_TOKEN = "dashboard-test-token-0123456789abcdef"
    dashboard = json.loads((DEPLOY / "grafana" / "storefront-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for expr in expressions
        for name in re.findall(r"\b((?:storefront|django)_[a-z_]+)\b", expr)
    }

    exported = metric_names_exported(client)

    assert used
    assert used - exported == set()
    assert {"storefront_webhooks_total", "storefront_banq_calls_total"} <= used
