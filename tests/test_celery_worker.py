"""A real Celery worker process runs a task end to end over real Redis and Postgres."""

import subprocess
import sys
import time

import pytest
import redis

from newsletter.config import Settings
from newsletter.health import last_worker_heartbeat
from newsletter.taskqueue import enqueue

pytestmark = pytest.mark.slow


def test_a_worker_process_runs_the_heartbeat_task(
    settings: Settings, child_environment: dict[str, str], redis_client: redis.Redis
) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
        env=child_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        enqueue(settings, "workers.tasks.health.heartbeat")

        deadline = time.monotonic() + 60
        beat = None
        while beat is None and time.monotonic() < deadline and worker.poll() is None:
            beat = last_worker_heartbeat(redis_client, settings.redis_prefix)
            time.sleep(0.2)
        assert beat is not None, "the worker never recorded a heartbeat"
        assert beat.database_time  # the task reached Postgres
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode is not None
    assert b"Traceback" not in output, output.decode(errors="replace")
