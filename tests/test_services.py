"""The embedded servers: start, reuse, status, stop, crash leftovers, no TCP listeners."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import redis
from sqlalchemy import create_engine, inspect, text

from newsletter import services
from newsletter.config import Settings
from newsletter.models import Base

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # Under /tmp: unix socket paths must stay short.
    path = Path(tempfile.mkdtemp(prefix="nl-svc-"))
    yield path
    services.remove_embedded_data(path)


def embedded_settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]


def listens_on_tcp(pid: int) -> bool:
    return any(conn.status == psutil.CONN_LISTEN for conn in psutil.Process(pid).net_connections(kind="inet"))


def test_embedded_servers_start_persist_and_report_status(data_dir: Path) -> None:
    settings = embedded_settings(data_dir)
    urls = services.resolve_service_urls(settings)

    engine = create_engine(urls.database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS kept (value text)"))
        conn.execute(text("INSERT INTO kept VALUES ('survives a restart')"))
    engine.dispose()
    client = redis.Redis.from_url(urls.redis_url)
    client.set("kept", "survives a restart")
    client.close()

    statuses = {status.name: status for status in services.service_statuses(settings)}
    assert statuses["postgres"].is_running and statuses["postgres"].kind == "embedded"
    assert statuses["redis"].is_running and statuses["redis"].kind == "embedded"
    postgres_pid = int(statuses["postgres"].detail.split()[1].rstrip(","))
    redis_pid = int(statuses["redis"].detail.split()[1].rstrip(","))
    # Unix sockets only: never a collision with servers on the standard ports.
    assert not listens_on_tcp(postgres_pid)
    assert not listens_on_tcp(redis_pid)

    # A second resolve reuses the running servers.
    assert services.resolve_service_urls(settings) == urls
    assert services.embedded_postgres_status(data_dir).detail.startswith(f"pid {postgres_pid}")

    assert services.stop_embedded_postgres(data_dir)
    assert services.stop_embedded_redis(data_dir)
    assert not any(status.is_running for status in services.service_statuses(settings))

    urls = services.resolve_service_urls(settings)
    engine = create_engine(urls.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM kept")).scalar_one() == "survives a restart"
    engine.dispose()
    client = redis.Redis.from_url(urls.redis_url)
    assert client.get("kept") == b"survives a restart"
    client.close()


def test_the_product_resolves_its_service_urls_once_per_process(data_dir: Path) -> None:
    urls = services.service_urls(embedded_settings(data_dir))
    assert services.embedded_redis_status(data_dir).is_running
    services.stop_embedded_redis(data_dir)
    # The same configuration again (an engine, an enqueue, a metrics scrape): the URLs of the first
    # call, without checking or starting the servers again.
    assert services.service_urls(embedded_settings(data_dir)) == urls
    assert not services.embedded_redis_status(data_dir).is_running
    # `newsletter services start` resolves afresh and starts what is down.
    assert services.resolve_service_urls(embedded_settings(data_dir)) == urls
    assert services.embedded_redis_status(data_dir).is_running


def test_embedded_servers_recover_from_a_crash_and_stale_files(data_dir: Path) -> None:
    settings = embedded_settings(data_dir)
    services.resolve_service_urls(settings)
    redis_dir = data_dir / "redis"
    pgdata = data_dir / "pg"

    # Redis killed outright leaves its socket and pid files behind.
    os.kill(int((redis_dir / "redis.pid").read_text()), signal.SIGKILL)
    time.sleep(0.3)
    assert (redis_dir / "redis.sock").exists()

    # A stopped Postgres whose postmaster.pid names a live process that is not postgres.
    services.stop_embedded_postgres(data_dir)
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n0\n5432\n{pgdata}\n\n0 0\nready\n")

    urls = services.resolve_service_urls(settings)
    assert all(status.is_running for status in services.service_statuses(settings))
    client = redis.Redis.from_url(urls.redis_url)
    assert client.ping()
    client.close()
    engine = create_engine(urls.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_postgres_killed_outright_restarts_with_its_committed_data(data_dir: Path) -> None:
    settings = embedded_settings(data_dir)
    urls = services.resolve_service_urls(settings)
    engine = create_engine(urls.database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS crash_kept (value text)"))
        conn.execute(text("INSERT INTO crash_kept VALUES ('committed before the crash')"))
    engine.dispose()

    pgdata = data_dir / "pg"
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().splitlines()[0]))
    postmaster.kill()
    # Its pid file, socket and socket lock file stay behind, naming a dead (or unreaped) process.
    wait_until(lambda: not postmaster.is_running() or postmaster.status() == psutil.STATUS_ZOMBIE)
    assert (pgdata / "postmaster.pid").exists() and (pgdata / ".s.PGSQL.5432.lock").exists()
    assert not services.embedded_postgres_status(data_dir).is_running

    urls = services.resolve_service_urls(settings)
    assert services.embedded_postgres_status(data_dir).is_running
    engine = create_engine(urls.database_url)
    with engine.connect() as conn:
        values = conn.execute(text("SELECT value FROM crash_kept")).scalars().all()
    engine.dispose()
    assert values == ["committed before the crash"]


def test_lock_files_naming_a_live_process_that_is_not_postgres_are_cleared(data_dir: Path) -> None:
    settings = embedded_settings(data_dir)
    services.resolve_service_urls(settings)
    pgdata = data_dir / "pg"
    services.stop_embedded_postgres(data_dir)
    # After a crash and a reboot the old pid may belong to any process: here, this test's own.
    for name in ("postmaster.pid", ".s.PGSQL.5432.lock"):
        (pgdata / name).write_text(f"{os.getpid()}\n{pgdata}\n0\n5432\n{pgdata}\n\n0 0\nready\n")

    urls = services.resolve_service_urls(settings)
    engine = create_engine(urls.database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
    assert services._lock_file_pid(pgdata / ".s.PGSQL.5432.lock") != os.getpid()


def test_db_upgrade_on_a_new_data_dir_creates_every_table_and_status_reports_both_servers() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="nl-cli-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSLETTER_")}
    env["NEWSLETTER_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "250"  # one table row per line

    def newsletter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsletter.cli", *args],
            env=env,
            cwd=data_dir,  # no .env of the checkout is read
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        upgrade = newsletter("db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        # A new embedded database is said to be new, with where it is (a command run from the wrong
        # folder would otherwise meet an empty database without a word).
        assert "starting a new, empty embedded PostgreSQL" in upgrade.stderr
        assert str((data_dir / "pg").resolve()) in upgrade.stderr
        engine = create_engine(services.embedded_postgres_url(data_dir))
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert tables == set(Base.metadata.tables) | {"alembic_version"}

        status = newsletter("services", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        rows = [line for line in status.stdout.splitlines() if "embedded" in line]
        assert len(rows) == 2
        assert any("postgres" in row and "running" in row for row in rows)
        assert any("redis" in row and "running" in row for row in rows)

        stop = newsletter("services", "stop")
        assert "postgres" in stop.stdout and "redis" in stop.stdout
        down = newsletter("services", "status")
        assert down.returncode == 1
        assert down.stdout.count("down") == 2
    finally:
        services.remove_embedded_data(data_dir)


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_configured_urls_win_over_the_embedded_servers(server_urls: services.ServiceUrls) -> None:
    never_used = Path(tempfile.mkdtemp(prefix="nl-unused-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=never_used,
        database_url=server_urls.database_url,
        redis_url=server_urls.redis_url,
    )
    assert services.resolve_service_urls(settings) == server_urls
    assert not (never_used / "pg").exists() and not (never_used / "redis").exists()
    assert all(
        status.kind == "configured" and status.is_running for status in services.service_statuses(settings)
    )


def test_an_unreachable_configured_server_is_reported_down(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
        redis_url="redis://127.0.0.1:1/0",
    )
    statuses = services.service_statuses(settings)
    assert [status.is_running for status in statuses] == [False, False]
