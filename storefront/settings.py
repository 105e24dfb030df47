"""Settings for banq storefront.

This module is the only reader of the environment (docs/configuration.md): every other module reads
``django.conf.settings``. Values come from the process environment and, when it exists, a ``.env``
file beside ``manage.py``; ``.env.example`` lists every variable.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import csp.constants as csp
import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=True) and (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# An empty value means "not set" (a copied .env.example leaves many blank), so defaults apply.
_OWN_PREFIXES = (
    "DJANGO_",
    "BANQ_",
    "DATABASE_",
    "REDIS_",
    "EMAIL_",
    "STORE",
    "ORDER_",
    "WEBHOOK_",
    "TASKS_",
    "WORKER_",
    "SENTRY_",
    "METRICS_",
    "PROMETHEUS_",
    "ADMIN",
)
for _name in [k for k, v in os.environ.items() if k.startswith(_OWN_PREFIXES) and not v.strip()]:
    del os.environ[_name]


def _make_run() -> dict:
    """Where a `make run` of this checkout serves (``.run/make-run.json``, written by
    ``storefront.devserver`` while it runs), so that a management command started from another
    shell reaches that store and emulator. Not read by the tests (DJANGO_READ_DOT_ENV=false) nor
    by the processes `make run` starts itself."""
    if os.environ.get("STOREFRONT_IGNORE_RUN_FILE") or not env.bool(
        "DJANGO_READ_DOT_ENV", default=True
    ):
        return {}
    try:
        data = json.loads((BASE_DIR / ".run" / "make-run.json").read_text())
        os.kill(int(data["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


MAKE_RUN = _make_run()

# --- banq environment first: the defaults below depend on it ---
BANQ_ENVIRONMENTS = ("emulator", "sandbox", "production")
BANQ_ENVIRONMENT = env.str("BANQ_ENVIRONMENT", default="emulator").strip().lower()
BANQ_EMULATED = BANQ_ENVIRONMENT == "emulator"

# --- Django core ---
DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _checkout_secret_key(path: Path) -> str:
    """This checkout's own key: read from ``path``, or generated there once (mode 0600; two
    processes starting at once agree on the first one written). "" when it can't be written."""
    with contextlib.suppress(OSError):
        key = path.read_text().strip()
        if key:
            return key
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # atomic; fails when another process was first
        return path.read_text().strip()
    except OSError:
        return ""
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


# The key signs sessions and the shoppers' order links (?key=...), so it is never a public value.
# It comes from DJANGO_SECRET_KEY. In emulator mode only, a key generated once per checkout into
# .run/secret-key (git-ignored) stands in: even a demo reachable from the LAN can't have links
# forged. A key published with this project is never used. Outside emulator mode a missing or
# published key is an error of `manage.py check`, and the store and the worker refuse to start
# (storefront/checks.py); until then a throwaway key lets the commands that sign nothing run.
PUBLIC_SECRET_KEYS = frozenset(
    {
        "dev-only-insecure-key-banq-storefront-do-not-use-in-production",  # earlier versions
        "change-me-to-a-long-random-string",  # earlier .env.example
    }
)
SECRET_KEY_FILE = BASE_DIR / ".run" / "secret-key"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
SECRET_KEY_SOURCE = "environment"  # or: checkout, missing, public, throwaway (storefront/checks)
if SECRET_KEY in PUBLIC_SECRET_KEYS:
    SECRET_KEY, SECRET_KEY_SOURCE = "", "public"
if not SECRET_KEY and BANQ_EMULATED:
    SECRET_KEY = _checkout_secret_key(SECRET_KEY_FILE)
    if SECRET_KEY_SOURCE != "public":
        SECRET_KEY_SOURCE = "checkout" if SECRET_KEY else "throwaway"
elif not SECRET_KEY and SECRET_KEY_SOURCE != "public":
    SECRET_KEY_SOURCE = "missing"
SECRET_KEY = SECRET_KEY or secrets.token_urlsafe(50)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "storefront.errors.csrf_failure"

INSTALLED_APPS = [
    "daphne",
    # Django's admin, with the store's admin site: sign-in with a second factor (django-otp).
    "storefront.apps.StoreAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "django_prometheus",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    # The order list's date-range filters (its templates).
    "rangefilter",
    "storefront",
    "orders",
    "banq",
    "webhooks",
]

MIDDLEWARE = [
    # Counts every request (django-prometheus); its partner is the last one.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # /healthz, /readyz and /metrics, answered before the host check and the HTTPS redirect:
    # probes and scrapers reach a store process by its own address (storefront/ops.py).
    "storefront.ops.OpsEndpointsMiddleware",
    # The request being handled, for the redaction of error alerts (storefront/alerts.py).
    "storefront.alerts.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "storefront.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy with a nonce on every page (storefront/csp.py); after whitenoise,
    # so static files are served without one.
    "storefront.csp.StoreCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: marks requests whose view answers JSON, so every error for them is JSON too.
    "storefront.middleware.JsonViewMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers a locked-out sign-in with the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "storefront.urls"
ASGI_APPLICATION = "storefront.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orders.context_processors.storefront",
            ],
        },
    },
]

# --- Database ---
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Stock SQLite fails most concurrent writes with "database is locked": WAL lets readers run
    # beside the writer, IMMEDIATE takes the write lock up front, and the timeout makes writers
    # wait for each other instead of failing.
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Keep each thread's connection open (opening one costs more than most queries): every request
    # and every socket would otherwise reconnect. Outside a test, nothing else holds the file.
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)
    # A file (not :memory:) so that a server started by a test in another process sees the data.
    # The pid keeps two test runs on one checkout from sharing (and deleting) each other's file.
    _db.setdefault("TEST", {})["NAME"] = str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    if env.bool("DATABASE_POOL", default=True):
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=1),
            # Above STOREFRONT_THREADS: each request thread holds a connection, and the sockets'
            # thread and the order watcher need theirs.
            "max_size": env.int("DATABASE_POOL_MAX", default=16),
            "timeout": 10,
        }
    else:
        _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
        _db["CONN_HEALTH_CHECKS"] = True
# Queries, their time and errors counted for /metrics: django-prometheus's backends are Django's
# own with a counting cursor.
_db["ENGINE"] = {
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.postgresql_psycopg2": "django_prometheus.db.backends.postgresql",
}.get(_db["ENGINE"], _db["ENGINE"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer ---
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, its reads counted for /metrics (storefront/cache.py).
            "BACKEND": "storefront.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "storefront",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "storefront.channel_layers.RedisChannelLayer",
            # A socket timeout above channels_redis's 5 s blocking read: redis-py 6+ times a read
            # out after 5 s by default, which closes every idle WebSocket with 1011 after ~5 s.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": "storefront",
            },
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "storefront.cache.LocMemCache"},
        # banq's access token, shared by this checkout's processes (store, task worker, commands)
        # so that they fetch one token per lifetime between them: files in .run/ (owner-only).
        "banq": {
            "BACKEND": "storefront.cache.FileBasedCache",
            "LOCATION": str(BASE_DIR / ".run" / "banq-cache"),
        },
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "storefront.channel_layers.InMemoryChannelLayer"}}

# How often each store process looks, in one query for all the order pages open on it, for orders
# changed by another process (the task worker, a command). With the in-memory channel layer this is
# the only way such changes reach open pages, so it is frequent; with Redis, pushes cross processes
# and this is a slow safety net.
ORDER_STATUS_RECHECK_SECONDS = env.float(
    "ORDER_STATUS_RECHECK_SECONDS", default=30.0 if REDIS_URL else 1.0
)

# Threads that run HTTP requests' sync code (middleware and views), each with its own database
# connection (storefront/handler.py). Requests waiting on banq or the database no longer queue
# behind one another.
# SQLite has one writer at a time: more threads only wait longer for it.
STOREFRONT_THREADS = env.int(
    "STOREFRONT_THREADS", default=4 if _db["ENGINE"].endswith("sqlite3") else 8
)

# --- Background work (Django's tasks API through the django-tasks backport) ---
# The database backend needs no broker: `manage.py worker` runs the tasks and the periodic work.
# Its tasks are enqueued in the same transaction as the change that causes them (the outbox): a
# backend that enqueues outside the database (RQ, Celery) loses that guarantee.
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# Seconds an idle worker waits before looking for tasks again.
WORKER_POLL_SECONDS = env.float("WORKER_POLL_SECONDS", default=0.5)
# Every running worker records a heartbeat this often; one silent for WORKER_LEASE_SECONDS is dead.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
WORKER_LEASE_SECONDS = env.float("WORKER_LEASE_SECONDS", default=60.0)
# How often the workers look for tasks of dead workers (their lease ran out) to put back.
WORKER_LEASE_CHECK_SECONDS = env.float("WORKER_LEASE_CHECK_SECONDS", default=15.0)
# The periodic work the worker enqueues (task path: every so many seconds), once across workers.
WORKER_PERIODIC_TASKS = {
    "banq.tasks.banq_sweep": 5,  # ask banq about open payments that are due a check
    "webhooks.tasks.webhooks_retry_due": 10,  # events banq or the store must retry
    "orders.periodic.orders_expire": 30,  # unpaid orders past their time (banq asked first)
    "storefront.tasks.tasks_housekeeping": 600,  # old results, tasks running without a worker id
}

# --- Sessions, security ---
# Sessions live in the database, so carts survive a restart. With Redis they are also cached
# there (Django's cached_db: written to both, read from Redis, from the database on a miss): a
# request reads no session row, and a flushed Redis loses nothing.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if REDIS_URL
    else "django.contrib.sessions.backends.db"
)
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HTTPS = env.bool("DJANGO_SECURE", default=False)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
if SECURE_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Reverse proxies whose X-Forwarded-For names the client (storefront/edge.py): how many there are
# (1 for nginx alone), or their networks (127.0.0.1/32,10.0.0.0/8). Empty: the peer is the client.
_TRUSTED_PROXIES = env.str("DJANGO_TRUSTED_PROXIES", default="").strip()
TRUSTED_PROXY_COUNT = int(_TRUSTED_PROXIES) if _TRUSTED_PROXIES.isdigit() else 0
TRUSTED_PROXY_NETWORKS = (
    []
    if _TRUSTED_PROXIES.isdigit()
    else [net.strip() for net in _TRUSTED_PROXIES.split(",") if net.strip()]
)
SECURE_CONTENT_TYPE_NOSNIFF = True
# No Referer leaves the store (an order page's URL may hold its signed key).
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Django's default (same-origin) would cut a pop-up's link to the page that opened it: banq's
# widget may open its payment page as a pop-up and talk back to the order page.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
# Features no page of the store uses are off for it and every frame in it
# (storefront/middleware.py); payment is left to the store and banq's frames.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "usb": [],
}

# --- Admin sign-in: lockout (django-axes) and a second factor (django-otp) ---
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user and address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins counted per user name and client address together: a wrong password from one
# address can't lock the merchant out everywhere. The address is the one the store's edge resolved
# behind DJANGO_TRUSTED_PROXIES (REMOTE_ADDR), never a header a client writes.
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("ADMIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "storefront.signin.client_address"
AXES_LOCKOUT_CALLABLE = "storefront.signin.lockout_response"
AXES_RESET_ON_SUCCESS = True
# Sign-in attempts are logged by the store's own loggers, not axes' verbose lines with user names.
AXES_VERBOSE = False
# Staff need a second factor (TOTP, with recovery codes) outside emulator mode; `check --deploy`
# warns when this is turned off there. In emulator mode the demo admin signs in with a password
# (anyone who set up a second factor is still asked for it).
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=not BANQ_EMULATED)
# Keys of authenticator apps are not shown again in the admin's device pages.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N, static ---
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# whitenoise warns on every request when the directory is missing (before collectstatic).
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(exist_ok=True)
# In development whitenoise serves straight from the finders; in production run collectstatic and
# set DJANGO_STATIC_MANIFEST=true for hashed, compressed, far-future-cached files.
WHITENOISE_USE_FINDERS = True
_STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=False)
# Without the manifest (development), pick up edited files without a restart.
WHITENOISE_AUTOREFRESH = not _STATIC_MANIFEST
# --- Media: product photos and their sized variants (orders/photos.py) ---
# MEDIA_STORAGE picks where uploads go: `files` (default) under MEDIA_ROOT, served at MEDIA_URL by
# the store itself when DJANGO_SERVE_MEDIA is on (emulator mode or DEBUG by default) and by nginx's
# `location /media/` in production; or `s3`, any S3-compatible bucket through django-storages.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="files").strip().lower()
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_SERVE = env.bool(
    "DJANGO_SERVE_MEDIA", default=MEDIA_STORAGE == "files" and (DEBUG or BANQ_EMULATED)
)
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="")
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="")
AWS_S3_CUSTOM_DOMAIN = env.str("AWS_S3_CUSTOM_DOMAIN", default="")
# Signed, expiring URLs (private bucket) or plain ones (a public bucket or a CDN in front).
AWS_QUERYSTRING_AUTH = env.bool("AWS_QUERYSTRING_AUTH", default=not AWS_S3_CUSTOM_DOMAIN)
_MEDIA_STORAGES: dict[str, dict] = {
    "files": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "s3": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL or None,
            "region_name": AWS_S3_REGION_NAME or None,
            "access_key": AWS_ACCESS_KEY_ID or None,  # None: boto3's own chain (a role, ...)
            "secret_key": AWS_SECRET_ACCESS_KEY or None,
            "custom_domain": AWS_S3_CUSTOM_DOMAIN or None,
            "querystring_auth": AWS_QUERYSTRING_AUTH,
            "file_overwrite": False,  # names are unique already; never replace a stored photo
            "default_acl": None,  # the bucket's own policy decides
        },
    },
}
# An uploaded photo: at most this many bytes and this many pixels (width x height; Pillow's
# decompression-bomb guard stops far larger ones as well). The admin's product form accepts a
# request this much larger than the photo (its other fields).
PRODUCT_PHOTO_MAX_BYTES = env.int("PRODUCT_PHOTO_MAX_BYTES", default=8 * 1024 * 1024)
PRODUCT_PHOTO_MAX_PIXELS = env.int("PRODUCT_PHOTO_MAX_PIXELS", default=40_000_000)

STORAGES = {
    # An unknown MEDIA_STORAGE, or s3 without a bucket, is an error of `manage.py check`
    # (storefront/checks.py), which stops the store and the worker from starting.
    "default": _MEDIA_STORAGES.get(MEDIA_STORAGE, _MEDIA_STORAGES["files"]),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- E-mail ---
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587, or EMAIL_BACKEND (a backend's
# dotted path, e.g. a provider's API backend with its own settings; it wins over EMAIL_URL's). With
# neither, e-mails are printed to the console: fine in emulator mode only. Outside it the e-mails
# (they carry the shoppers' signed order links) need one of them, and a backend that prints or
# writes them to files stops the store and the worker from starting (storefront/checks.py).
EMAIL_CONFIGURED = bool(os.environ.get("EMAIL_URL") or os.environ.get("EMAIL_BACKEND"))
_email = env.email_url("EMAIL_URL", default="consolemail://")
_email["EMAIL_BACKEND"] = env.str("EMAIL_BACKEND", default=_email["EMAIL_BACKEND"])
vars().update(_email)
# Seconds before an SMTP connection or send gives up (the worker then retries with backoff).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="shop@example.com")

# --- The store ---
STORE_NAME = env.str("STORE_NAME", default="banq demo store")
STORE_CURRENCY = "USD"
# The payment provider new orders pay through: the name a provider app registers under in its
# AppConfig.ready (orders.payments; banq's is "banq").
PAYMENT_PROVIDER = "banq"
# Public base URL of the store: used in e-mails (signed order links) and when registering the
# webhook with banq.
STOREFRONT_URL = env.str(
    "STOREFRONT_URL", default=MAKE_RUN.get("store_url") or "http://127.0.0.1:8000"
).rstrip("/")
# Pages whose browser may open the order socket; scheme, host and port are compared
# (storefront/edge.py).
WEBSOCKET_ALLOWED_ORIGINS = [STOREFRONT_URL, *CSRF_TRUSTED_ORIGINS]
ORDER_NUMBER_PREFIX = env.str("ORDER_NUMBER_PREFIX", default="SF")
# Orders not paid this many minutes after checkout become `expired` (manage.py expire_orders).
ORDER_EXPIRY_MINUTES = env.int("ORDER_EXPIRY_MINUTES", default=60)
ORDER_LINK_MAX_AGE_DAYS = env.int("ORDER_LINK_MAX_AGE_DAYS", default=90)
# A shopper's "I paid" (the widget's success) that banq has not confirmed after this many minutes
# puts the order in the admin's "needs attention".
ORDER_CLAIM_ATTENTION_MINUTES = env.int("ORDER_CLAIM_ATTENTION_MINUTES", default=2)
CART_MAX_QUANTITY = 99
# The authenticator app shows the store's name beside the staff member's account.
OTP_TOTP_ISSUER = STORE_NAME

# --- banq ---
BANQ_EMULATOR_URL = env.str(
    "BANQ_EMULATOR_URL", default=MAKE_RUN.get("emulator_url") or "http://127.0.0.1:8001"
).rstrip("/")
_BANQ_HOSTS = {
    "emulator": {
        "token": f"{BANQ_EMULATOR_URL}/oauth/token",
        "api": f"{BANQ_EMULATOR_URL}/api/v1",
        "widget": f"{BANQ_EMULATOR_URL}/widget/ecommerce.js",
        "frames": [BANQ_EMULATOR_URL],
    },
    "sandbox": {
        "token": "https://banq-staging.auth0.com/oauth/token",
        "api": "https://sandbox.banq.com/api/v1",
        "widget": "https://sandbox.banq.com/widget/ecommerce.js",
        # The widget's own frame, and the hosted payment links (https://link.banq.com/<code>).
        "frames": ["https://sandbox.banq.com", "https://link.banq.com"],
    },
    "production": {
        "token": "https://banq-prod.auth0.com/oauth/token",
        "api": "https://api.banq.com/api/v1",
        "widget": "",  # not published by banq: BANQ_WIDGET_URL is required in production
        "frames": ["https://link.banq.com"],  # and the widget's own origin (below)
    },
}
_hosts = _BANQ_HOSTS.get(BANQ_ENVIRONMENT, _BANQ_HOSTS["emulator"])
BANQ_TOKEN_URL = env.str("BANQ_TOKEN_URL", default=_hosts["token"])
BANQ_API_URL = env.str("BANQ_API_URL", default=_hosts["api"]).rstrip("/")
BANQ_WIDGET_URL = env.str("BANQ_WIDGET_URL", default=_hosts["widget"])


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, "" when it has none."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# What the Content-Security-Policy lets banq do on the order page (storefront/csp.py): run its
# widget script (from the widget's origin) and frame its payment pages (the widget's origin and
# these; BANQ_FRAME_ORIGINS replaces the environment's list).
BANQ_WIDGET_ORIGIN = _origin(BANQ_WIDGET_URL)
BANQ_FRAME_ORIGINS = [
    origin
    for origin in dict.fromkeys(
        [BANQ_WIDGET_ORIGIN]
        + [_origin(o) for o in env.list("BANQ_FRAME_ORIGINS", default=_hosts["frames"])]
    )
    if origin
]

# The emulator's built-in merchant (banq_emulator/state.py seeds the same values), so that a fresh
# clone pays end to end with nothing configured. Outside the emulator these have no default.
BANQ_EMULATOR_DEFAULTS = {
    "BANQ_CLIENT_ID": "emulator-client-id",
    "BANQ_USERNAME": "api-user@emulator.banq.test",
    "BANQ_PASSWORD": "emulator-password",
    "BANQ_MERCHANT_GUID": "6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f",
    "BANQ_ACCOUNT_SPACE_ID": "3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a",
    "BANQ_WEBHOOK_TOKEN": "emulator-webhook-token-0123456789abcdef",
}


def _banq_secret(name: str) -> str:
    return env.str(name, default=BANQ_EMULATOR_DEFAULTS[name] if BANQ_EMULATED else "")


BANQ_CLIENT_ID = _banq_secret("BANQ_CLIENT_ID")
BANQ_USERNAME = _banq_secret("BANQ_USERNAME")
BANQ_PASSWORD = _banq_secret("BANQ_PASSWORD")
BANQ_MERCHANT_GUID = _banq_secret("BANQ_MERCHANT_GUID")
BANQ_ACCOUNT_SPACE_ID = _banq_secret("BANQ_ACCOUNT_SPACE_ID")
BANQ_WEBHOOK_TOKEN = _banq_secret("BANQ_WEBHOOK_TOKEN")
BANQ_COMPANY_ID = env.str("BANQ_COMPANY_ID", default="")  # sent as X-Company-Id only when set
# `username` (current guide) or `client_username` (older guide) for the token request's fields.
BANQ_TOKEN_FIELD_STYLE = env.str("BANQ_TOKEN_FIELD_STYLE", default="username")
BANQ_AUDIENCE = env.str("BANQ_AUDIENCE", default="https://banq.com/open/api/")
# banq's own fixed public client id for the merchant-user flow (printed in banq's guide).
BANQ_USER_CLIENT_ID = env.str("BANQ_USER_CLIENT_ID", default="kFLEhEsxxBWCf0X19hAIjbzYaSyn2cim")
BANQ_USER_AUDIENCE = env.str("BANQ_USER_AUDIENCE", default="https://banq.com/api")
# banq's list of recurring frequencies is not public; `once` is the only documented one.
BANQ_FREQUENCIES = env.list("BANQ_FREQUENCIES", default=["once", "weekly", "monthly", "yearly"])
BANQ_CONNECT_TIMEOUT = env.float("BANQ_CONNECT_TIMEOUT", default=5.0)
BANQ_READ_TIMEOUT = env.float("BANQ_READ_TIMEOUT", default=20.0)
BANQ_RETRIES = env.int("BANQ_RETRIES", default=2)  # extra attempts for safe calls (GET, token)
BANQ_RETRY_BACKOFF = env.float("BANQ_RETRY_BACKOFF", default=0.5)  # seconds, doubled per attempt
# Calls to /generate-payment-link allowed per browser session and per order in the window, and
# from one IP address in all (a wide backstop: shoppers behind one proxy or NAT share it).
BANQ_LINK_RATE_LIMIT = env.int("BANQ_LINK_RATE_LIMIT", default=20)
BANQ_LINK_RATE_LIMIT_IP = env.int("BANQ_LINK_RATE_LIMIT_IP", default=300)
BANQ_LINK_RATE_WINDOW = env.int("BANQ_LINK_RATE_WINDOW", default=60)
# Inside a request (webhook, shopper's confirm, Pay) banq gets no retries, short timeouts and this
# many seconds in all; what doesn't fit is left to the worker (banq gets 503 and retries too).
BANQ_REQUEST_BUDGET = env.float("BANQ_REQUEST_BUDGET", default=10.0)
# The shopper's confirm and the order page start at most one banq look-up per payment attempt in
# this many seconds (one look-up runs at a time, whoever asks: banq/lookups.py).
BANQ_RECHECK_MIN_INTERVAL = env.float("BANQ_RECHECK_MIN_INTERVAL", default=3.0)
# A payment link is handed out again without asking banq only while banq's last word on it is
# younger than this many seconds.
BANQ_LINK_FRESH_SECONDS = env.float("BANQ_LINK_FRESH_SECONDS", default=1.0)
# The worker's sweep: every open payment attempt is re-checked with banq at these delays after its
# link was last handed out, then every BANQ_SWEEP_EVERY, until BANQ_SWEEP_HORIZON after that, with
# at most BANQ_SWEEP_MAX_CALLS_PER_MINUTE calls to banq.
BANQ_SWEEP_SCHEDULE = env.list("BANQ_SWEEP_SCHEDULE", default=["10s", "30s", "1m", "2m", "5m"])
BANQ_SWEEP_EVERY = env.str("BANQ_SWEEP_EVERY", default="15m")
BANQ_SWEEP_HORIZON = env.str("BANQ_SWEEP_HORIZON", default="24h")
BANQ_SWEEP_MAX_CALLS_PER_MINUTE = env.int("BANQ_SWEEP_MAX_CALLS_PER_MINUTE", default=60)
# Recurring plans: an installment banq has not reported this long after the end of its due day is
# looked up at banq by the sweep, and flagged as missed when banq has nothing for it.
BANQ_INSTALLMENT_GRACE = env.str("BANQ_INSTALLMENT_GRACE", default="1d")
# Webhook bodies larger than this are refused with 413.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)

# Where the pages' <img> load product photos from when that is not the store itself.
MEDIA_ORIGINS = [
    origin
    for origin in [
        _origin(f"https://{AWS_S3_CUSTOM_DOMAIN}") if AWS_S3_CUSTOM_DOMAIN else "",
        _origin(AWS_S3_ENDPOINT_URL) if MEDIA_STORAGE == "s3" and not AWS_S3_CUSTOM_DOMAIN else "",
        "https://*.amazonaws.com"
        if MEDIA_STORAGE == "s3" and not (AWS_S3_CUSTOM_DOMAIN or AWS_S3_ENDPOINT_URL)
        else "",
        _origin(MEDIA_URL) if MEDIA_STORAGE == "files" else "",
    ]
    if origin
]

# --- Content-Security-Policy (django-csp; storefront/csp.py adds the page's WebSocket origin) ---
# Scripts: the store's own files, banq's widget, and inline scripts only with this response's
# nonce. Styles may be inline: banq's widget injects its own stylesheet, which can't carry our
# nonce, and the admin uses style attributes; a style can't run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE, *([BANQ_WIDGET_ORIGIN] if BANQ_WIDGET_ORIGIN else [])],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", *MEDIA_ORIGINS],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "frame-src": BANQ_FRAME_ORIGINS or [csp.NONE],
        "frame-ancestors": [csp.NONE],
        "form-action": [csp.SELF],
        "base-uri": [csp.NONE],
        "object-src": [csp.NONE],
        "report-uri": "/csp-report/",
        **({"upgrade-insecure-requests": True} if SECURE_HTTPS else {}),
    },
}
# Violation reports (POST /csp-report/): at most this many bytes each (413 above) and this many a
# minute from one address (429 above).
CSP_REPORT_MAX_BYTES = 8 * 1024
CSP_REPORT_RATE_LIMIT = 60

# --- Operating it: health, readiness, metrics (storefront/ops.py, storefront/health.py) ---
# /readyz: computed at most once per READYZ_CACHE_SECONDS per process, at most READYZ_RATE_LIMIT
# calls a minute from one address; a task due for longer than READYZ_TASK_MAX_AGE_SECONDS, or no
# sweep enqueued for READYZ_SWEEP_MAX_AGE_SECONDS, makes it fail. The worker check fails when no
# worker has beaten for WORKER_LEASE_SECONDS.
READYZ_CACHE_SECONDS = 1.0
READYZ_RATE_LIMIT = 120
READYZ_TASK_MAX_AGE_SECONDS = 300
READYZ_SWEEP_MAX_AGE_SECONDS = 120
READYZ_SWEEP_TASK = "banq.tasks.banq_sweep"
# /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>` or to a client in one of
# METRICS_ALLOWED_NETWORKS (the address the edge resolved); anyone else gets a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# Several processes (store processes, workers) on one host share their metrics through this
# directory (prometheus_client's multi-process mode, read from the environment when it starts);
# any of the store processes then answers /metrics for all of them.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# django-prometheus: no migration look-up at start-up.
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Error alerts ---
# Sentry (optional): every event and breadcrumb goes through the store's redaction first
# (storefront/alerts.py). Without it, the people in ADMINS ("Name <address>", comma separated)
# get an e-mail for each server error, sent from a background thread, secrets removed.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
ADMINS = [parseaddr(entry) for entry in env.list("ADMINS", default=[]) if "@" in entry]
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if SENTRY_DSN:
    from storefront.alerts import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=BANQ_ENVIRONMENT)

# --- Logging ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# `plain` (text on stderr) or `json` (one JSON object per line on stdout, with the request id and
# the order number: storefront/logs.py), for production log collectors.
LOG_FORMAT = "json" if env.str("LOG_FORMAT", default="plain").strip().lower() == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "storefront.logs.JsonFormatter"},
    },
    "filters": {
        "redact_secrets": {"()": "storefront.logfilters.RedactSecretsFilter"},
        "log_context": {"()": "storefront.logs.ContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_secrets", "log_context"],
            **({"stream": "ext://sys.stdout"} if LOG_FORMAT == "json" else {}),
        },
        "mail_admins": {
            "level": "ERROR",
            "class": "storefront.alerts.AdminMailHandler",
            "filters": ["require_debug_false"],
        },
    },
    # App loggers propagate to the root handler (so pytest's caplog sees them too).
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "orders": {"level": LOG_LEVEL},
        "banq": {"level": LOG_LEVEL},
        "webhooks": {"level": LOG_LEVEL},
        "storefront": {"level": LOG_LEVEL},
        # Django's own handlers are replaced: its mail to ADMINS would wait on the mail server in
        # the request, unredacted, for every error of any django logger (bad Host headers too).
        "django": {"handlers": [], "level": "INFO"},
        # Server errors (500s): mailed to ADMINS when there is no Sentry to report them.
        "django.request": {"handlers": ["mail_admins"] if ADMINS and not SENTRY_DSN else []},
        # banq.client logs each retry in its own words.
        "urllib3.connectionpool": {"level": "ERROR"},
    },
}
