"""Settings of the demo/dev project. Environment: DATABASE_URL, REDIS_URL, AI_API_KEY,
AI_MODEL, AI_BASE_URL (the last three are read by the client itself), AIGEN_TASK_BACKEND,
DJANGO_MEDIA_ROOT."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# Django 6 ships django.tasks; on 5.2 the django-tasks backport stands in for it.
HAS_DJANGO_TASKS = find_spec("django.tasks") is not None
TASKS_MODULE = "django.tasks" if HAS_DJANGO_TASKS else "django_tasks"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *([] if HAS_DJANGO_TASKS else ["django_tasks"]),
    "django_tasks_db",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "aigen_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

# An empty DATABASE_URL (CI's SQLite leg sets it so) means the default, like an unset one.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads/processes write (web, worker). IMMEDIATE takes the write lock when a
    # transaction begins, so read-then-write transactions (turn positions, daily quota)
    # serialize instead of failing with "database is locked" on the lock upgrade; the
    # timeout makes writers wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    # Timeouts, so a Redis that is down or stalled costs a request a second, not the
    # whole outage (redis-py waits forever by default); the throttle and the limiter
    # then fall back to per-process limits (docs/workers.md).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# DJANGO_MEDIA_ROOT lets a worker process share a test's temporary media directory.
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "/media/"
STATIC_URL = "/static/"

# In the background of this process by default (aigen_app.inprocess: a create answers 202
# at once); AIGEN_TASK_BACKEND=immediate runs a generation inside the request that
# starts it, AIGEN_TASK_BACKEND=database selects django-tasks-db's
# worker-backed queue (run `python manage.py db_worker`), AIGEN_TASK_BACKEND=rq an RQ
# queue on REDIS_URL (the `rq` extra; run `python manage.py rqworker default
# --with-scheduler --job-class django_tasks_rq.Job`).
TASK_BACKENDS = {
    "immediate": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
    "procrastinate": "aigen_app.procrastinate_backend.ProcrastinateBackend",
}
TASKS = {
    "default": {
        "BACKEND": TASK_BACKENDS.get(os.environ.get("AIGEN_TASK_BACKEND", ""),
                                     "aigen_app.inprocess.InProcessBackend")
    }
}
if find_spec("procrastinate") is not None and DATABASES["default"]["ENGINE"].endswith(
        "postgresql"):
    # AIGEN_TASK_BACKEND=procrastinate (the `procrastinate` extra, PostgreSQL only): run
    # `python manage.py procrastinate worker --concurrency 256
    # --shutdown-graceful-timeout 30` (docs/workers.md).
    INSTALLED_APPS.append("procrastinate.contrib.django")
    PROCRASTINATE_ON_APP_READY = "aigen_app.procrastinate_backend.on_app_ready"
if find_spec("django_rq") is not None:
    INSTALLED_APPS.append("django_rq")
    # A job may run as long as a generation may (AIGEN DEADLINE plus storage): RQ kills
    # the job after DEFAULT_TIMEOUT seconds, and aigen_recover then queues it again.
    RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0",
                             "DEFAULT_TIMEOUT": 900}}

AIGEN: dict[str, object] = {}

# No REST_FRAMEWORK: the app's views set everything they depend on, so the demo runs the
# API as a host project with DRF's defaults does. The create throttle's rate is
# AIGEN["API_CREATE_RATE"] (a host's DEFAULT_THROTTLE_RATES["aigen_create"] overrides it).

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "aigen": {"handlers": ["console"], "level": os.environ.get("AIGEN_LOG", "WARNING")},
        # The procrastinate worker's start, stop and job lines (the `procrastinate` extra).
        "procrastinate": {"handlers": ["console"], "level": "INFO"},
    },
}

# The demo runs against the bundled emulator when no key is set; the warning is for
# projects that would otherwise fail every generation.
SILENCED_SYSTEM_CHECKS = ["aigen.W001"]
