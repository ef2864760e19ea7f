"""Settings come from the environment; every default is the embedded one (DESIGN.md §4)."""

from __future__ import annotations

import mimetypes
import os
import secrets
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext

# Lets generic admin and serializer classes be subscripted at run time (for mypy).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _load_secret_key() -> str:
    """A stable key per checkout, so sessions and tokens survive restarts of `make run`."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _load_secret_key()
DEBUG = os.environ.get("DEBUG", "0") == "1"
PORT = int(os.environ.get("PORT", "8000"))
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
ALLOWED_ORIGINS = _env_list("ALLOWED_ORIGINS", f"http://127.0.0.1:{PORT},http://localhost:{PORT}")
CSRF_TRUSTED_ORIGINS = ALLOWED_ORIGINS

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "channels",
    "accounts",
    "courses",
    "realtime",
    "presence",
    "notifications",
    "chat",
    "videos",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "elearning.urls"
ASGI_APPLICATION = "elearning.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, websockets and the worker write the same file: WAL lets readers go on during a
    # write, IMMEDIATE takes the write lock up front so two writers queue instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so the daphne and Celery processes that end-to-end tests start
    # see the test database; one per test run, so parallel runs do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_DATABASE_NAME", str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Redis: channel layer, Celery broker, presence --------------------------------------


def _running_stack_redis() -> str | None:
    """The private Redis of a running `make run` (it writes var/redis_url while it is up),
    so `manage.py process_video` beside it reaches the same channel layer and broker."""
    url_file = VAR_DIR / "redis_url"
    return url_file.read_text().strip() if url_file.exists() else None


REDIS_URL = os.environ.get("REDIS_URL") or _running_stack_redis() or "redis://127.0.0.1:6379/0"

# `pubsub` (default) sends one PUBLISH per group message and each process fans out
# locally; `core` keeps messages in Redis lists and loops over a group's members in
# Redis: 3x the server CPU per delivery in a fan-out to 1 000 sockets (README,
# "Performance"). Neither is the source of truth: kept events are logged in the database
# and a socket that misses one fills the gap from there.
CHANNEL_LAYER_KIND = os.environ.get("CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER_KIND == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "elearning:asgi"},
        }
    }
elif CHANNEL_LAYER_KIND == "core":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, the same as the
                # layer's 5 s BZPOPMIN: an idle consumer's receive then raises TimeoutError
                # and daphne drops the socket. Blocking reads need no socket timeout.
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": "elearning:asgi",
                "capacity": 1000,
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    raise ValueError(f"CHANNEL_LAYER must be 'core' or 'pubsub', not {CHANNEL_LAYER_KIND!r}")

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only when it ends, so a killed worker's job is delivered again;
# the services guard against running it twice with a claim on the row.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {"videos.tasks.*": {"queue": "videos"}}
# Periodic work runs in the worker's embedded beat (`celery worker --beat` in `make run`).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "trim-event-logs": {"task": "realtime.tasks.trim_event_logs_task", "schedule": 3600.0},
    "requeue-stale-video-jobs": {
        "task": "videos.tasks.requeue_stale_jobs_task",
        "schedule": 60.0,
    },
    # Daphne processes sweep as part of their heartbeat; this covers the case where none
    # is left alive to do it (presence/services.py).
    "sweep-presence": {"task": "presence.tasks.sweep_presence_task", "schedule": 10.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "elearning.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("JWT_ACCESS_MINUTES", "30"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "elearning realtime API",
    "DESCRIPTION": "REST side of the realtime layer. The websocket protocol is at /ws/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Realtime --------------------------------------------------------------------------
REALTIME_AUTH_TIMEOUT_S = 10.0
# Replay keeps at least this many events and at least this long per user (DESIGN.md §6).
REALTIME_KEEP_EVENTS = 1000
REALTIME_KEEP_HOURS = 24

# --- Presence (presence/store.py) ------------------------------------------------------
# A socket that stops heartbeating (its process was killed) stops counting after
# PRESENCE_TTL_S; the transition is broadcast at the next sweep, one heartbeat later.
PRESENCE_TTL_S = float(os.environ.get("PRESENCE_TTL_S", "30"))
PRESENCE_HEARTBEAT_S = float(os.environ.get("PRESENCE_HEARTBEAT_S", str(PRESENCE_TTL_S / 3)))
# A `lesson.watch` report is shown for this long; older than STALE it is flagged stale.
PRESENCE_WATCH_TTL_S = float(os.environ.get("PRESENCE_WATCH_TTL_S", "20"))
PRESENCE_WATCH_STALE_S = float(os.environ.get("PRESENCE_WATCH_STALE_S", "10"))
# At most one `course.viewers` event per course per interval (the last value always sent).
PRESENCE_VIEWERS_INTERVAL_S = float(os.environ.get("PRESENCE_VIEWERS_INTERVAL_S", "1.0"))
PRESENCE_KEY_PREFIX = os.environ.get("PRESENCE_KEY_PREFIX", "elearning:presence:")

# --- Videos ----------------------------------------------------------------------------
WHISPER_MODEL = os.environ.get("WHISPER_MODEL") or None  # None: the embedded tiny.en model
WHISPER_THREADS = int(os.environ.get("WHISPER_THREADS", str(os.cpu_count() or 2)))
FFMPEG_BINARY = os.environ.get("FFMPEG_BINARY") or None
CLOUDINARY_URL = os.environ.get("CLOUDINARY_URL") or None
VIDEO_MAX_UPLOAD_BYTES = int(os.environ.get("VIDEO_MAX_UPLOAD_BYTES", str(2 * 1024**3)))
VIDEO_MAX_DURATION_S = float(os.environ.get("VIDEO_MAX_DURATION_S", str(4 * 3600)))
VIDEO_WORK_DIR = VAR_DIR / "work"
VIDEO_UPLOAD_DIR = VAR_DIR / "uploads"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# `make run` generates one into var/demo_password once, when DEMO_PASSWORD is unset.
_demo_password_file = VAR_DIR / "demo_password"
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD") or (
    _demo_password_file.read_text().strip() if _demo_password_file.exists() else None
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # Celery's per-task lines ("received", "succeeded", "sending due task") would
        # print the presence sweep every 10 s; failures still log at ERROR, and the
        # services log what matters (a video job finishing) themselves.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

# Processed media on the embedded default is served by Django's static view: it needs
# the SubRip type, and under ASGI it streams a file through a thread, which Django warns
# about on every request. Production serves media from Cloudinary or the proxy.
mimetypes.add_type("application/x-subrip", ".srt")
mimetypes.add_type("text/vtt", ".vtt")
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)
