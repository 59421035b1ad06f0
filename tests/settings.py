"""Test settings: PostgreSQL and Redis when reachable, else SQLite and the in-memory layer."""

import atexit
import os
import shutil
import socket
import tempfile


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


# Decided before chatproject.settings reads the environment.
if "DATABASE_URL" not in os.environ:
    if _reachable("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/chatproject"
    else:
        os.environ["DATABASE_URL"] = "sqlite:///:memory:"
if "REDIS_URL" not in os.environ and _reachable("127.0.0.1", 6379):
    os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/0"
# Uploads go to real files, as in production (Django's InMemoryStorage hands every reader
# of a file the same object, so two downloads at once would share one read position).
# Servers the tests start inherit the directory; the process that made it removes it.
if "MEDIA_ROOT" not in os.environ:
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="chatproject-test-media-")
    atexit.register(shutil.rmtree, os.environ["MEDIA_ROOT"], ignore_errors=True)
# As in production, whatever the shell says (the Makefile exports DEBUG=1 for `make run`).
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("LLM_PROVIDER", "demo")
os.environ.setdefault("DEMO_STREAM_DELAY", "0")
# Counters outlive a test in Redis; the throttle tests switch it on themselves.
os.environ.setdefault("CHAT_GENERATION_RATE", "")

from chatproject.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Throttle counters per test process (tests clear them; never flush a shared Redis).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared in-memory database: there, a table another thread
    # writes is refused at once ("database table is locked", no waiting), which the
    # live server's threads and the reply runners hit beside the tests' own.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"chatproject-test-{os.getpid()}.sqlite3")
    }
