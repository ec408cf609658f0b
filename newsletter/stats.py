"""Operating numbers: what the pipeline has done, how fetching is going, how mail is received, how readers
vote."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from newsletter.config import Settings
from newsletter.feedback.votes import VoteDay, votes_per_day
from newsletter.models import Paper
from newsletter.summaries.queries import is_summarized
from newsletter.taskqueue import QUEUES


@dataclass(frozen=True)
class FetchRunLine:
    source: str
    category: str | None
    status: str
    started_at: datetime
    new: int
    updated: int
    rejected: int
    error: str | None


@dataclass(frozen=True)
class LlmUsageLine:
    day: date
    model: str
    summaries: int
    prompt_tokens: int
    completion_tokens: int
    # None when no price is configured.
    cost_usd: float | None


@dataclass(frozen=True)
class LlmPrices:
    prompt_usd_per_million: float = 0.0
    completion_usd_per_million: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if not (self.prompt_usd_per_million or self.completion_usd_per_million):
            return None
        return (
            prompt_tokens * self.prompt_usd_per_million + completion_tokens * self.completion_usd_per_million
        ) / 1_000_000


# What each edition kind (models.edition.EDITION_KINDS) is called in `newsletter stats` and on /admin.
EDITION_KIND_LABELS = {
    "papers": "editions with papers",
    "nothing_new": "editions saying nothing is new",
    "skipped": "editions skipped",
}


@dataclass
class Stats:
    papers: int = 0
    papers_on_hf: int = 0
    summarized: int = 0
    subscribers_by_status: dict[str, int] = field(default_factory=dict)
    editions_by_kind: dict[str, int] = field(default_factory=dict)
    distinct_contents: int = 0
    deliveries_by_state: dict[str, int] = field(default_factory=dict)
    webhook_events_by_type: dict[str, int] = field(default_factory=dict)
    last_fetch_runs: list[FetchRunLine] = field(default_factory=list)
    # Tokens the LLM summarizer used per UTC day and model (answers the guard refused included: they
    # were paid for), newest day first.
    llm_usage: list[LlmUsageLine] = field(default_factory=list)
    # "More like this" (up) and "Less like this" (down) votes per UTC day, newest first.
    votes: list[VoteDay] = field(default_factory=list)

    @property
    def edition_lines(self) -> list[tuple[str, int]]:
        """Editions by kind, as an operator reads them: ("editions with papers", 1234), …"""
        return [
            (EDITION_KIND_LABELS.get(kind, f"editions {kind}"), count)
            for kind, count in sorted(self.editions_by_kind.items())
        ]

    @property
    def sent(self) -> int:
        return self.deliveries_by_state.get("sent", 0)

    @property
    def bounce_rate(self) -> float:
        return self.webhook_events_by_type.get("bounce", 0) / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.webhook_events_by_type.get("spamreport", 0) / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "papers": self.papers,
            "papers_on_hf": self.papers_on_hf,
            "summarized": self.summarized,
            "subscribers": self.subscribers_by_status,
            "editions": self.editions_by_kind,
            "distinct_contents": self.distinct_contents,
            "deliveries": self.deliveries_by_state,
            "webhook_events": self.webhook_events_by_type,
            "bounce_rate": self.bounce_rate,
            "complaint_rate": self.complaint_rate,
            "last_fetch_runs": [
                {
                    "source": run.source,
                    "category": run.category,
                    "status": run.status,
                    "started_at": run.started_at.isoformat(),
                    "new": run.new,
                    "updated": run.updated,
                    "rejected": run.rejected,
                    "error": run.error,
                }
                for run in self.last_fetch_runs
            ],
            "llm_usage": [
                {
                    "day": line.day.isoformat(),
                    "model": line.model,
                    "summaries": line.summaries,
                    "prompt_tokens": line.prompt_tokens,
                    "completion_tokens": line.completion_tokens,
                    "cost_usd": line.cost_usd,
                }
                for line in self.llm_usage
            ],
            "votes": [
                {"day": day.day.isoformat(), "up": day.up, "down": day.down, "voters": day.voters}
                for day in self.votes
            ],
        }


def _counts(session: Session, sql: str) -> dict[str, int]:
    return {str(key): int(count) for key, count in session.execute(text(sql))}


def collect_stats(
    session: Session,
    fetch_runs: int = 10,
    llm_prices: LlmPrices | None = None,
    llm_days: int = 7,
    vote_days: int = 7,
) -> Stats:
    stats = Stats()
    row = session.execute(
        select(func.count(), func.count().filter(Paper.is_on_hf), func.count().filter(is_summarized()))
    ).one()
    stats.papers, stats.papers_on_hf, stats.summarized = row
    stats.subscribers_by_status = _counts(session, "SELECT status, count(*) FROM subscribers GROUP BY status")
    stats.editions_by_kind = _counts(session, "SELECT kind, count(*) FROM editions GROUP BY kind")
    stats.distinct_contents = session.execute(text("SELECT count(*) FROM edition_contents")).scalar_one()
    stats.deliveries_by_state = _counts(session, "SELECT state, count(*) FROM deliveries GROUP BY state")
    stats.webhook_events_by_type = _counts(
        session, "SELECT event, count(*) FROM webhook_events GROUP BY event"
    )
    stats.last_fetch_runs = [
        FetchRunLine(*row)
        for row in session.execute(
            text(
                "SELECT source, category, status, started_at, new_count, updated_count, rejected_count, error"
                " FROM fetch_runs ORDER BY started_at DESC, id DESC LIMIT :limit"
            ),
            {"limit": fetch_runs},
        )
    ]
    stats.llm_usage = llm_usage_by_day(session, llm_prices or LlmPrices(), llm_days)
    stats.votes = votes_per_day(session, vote_days)
    return stats


def llm_usage_by_day(session: Session, prices: LlmPrices, days: int) -> list[LlmUsageLine]:
    rows = session.execute(
        text(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, coalesce(model, 'unknown'), count(*),"
            " coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)"
            " FROM summaries"
            " WHERE (prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL)"
            " AND created_at >= (now() AT TIME ZONE 'UTC')::date - :days"
            " GROUP BY 1, 2 ORDER BY 1 DESC, 2"
        ),
        {"days": days - 1},
    )
    return [
        LlmUsageLine(
            day, model, int(count), int(prompt), int(completion), prices.cost(int(prompt), int(completion))
        )
        for day, model, count, prompt, completion in rows
    ]


def llm_prices(settings: Settings) -> LlmPrices:
    return LlmPrices(settings.llm_prompt_usd_per_million, settings.llm_completion_usd_per_million)


def queue_depth(redis_client: redis.Redis, prefix: str) -> int:
    """Tasks waiting in the Celery queues (Celery's Redis transport keeps a list per queue)."""
    return sum(int(redis_client.llen(f"{prefix}{queue}")) for queue in QUEUES)
