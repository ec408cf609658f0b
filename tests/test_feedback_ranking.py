"""A chunk's reader views: freed as soon as the build lets go of them."""

from __future__ import annotations

import gc
import weakref

import numpy as np
from scipy import sparse

from newsletter.feedback.personal import PaperFeatures, ReaderTaste
from newsletter.feedback.ranking import CandidateVectors, FeedbackPapers, ReaderViews


def test_reader_views_with_liked_reasons_are_freed_without_the_cycle_collector() -> None:
    # A full collection over a million-subscriber build's heap is expensive, so the build collects
    # rarely: a chunk's views (and their matrices) must go with their last reference, not wait for it.
    candidates = [1, 2, 3]
    taste = ReaderTaste(
        weights=np.ones(3, dtype=np.float32),
        intercept=0.0,
        vote_count=5,
        hidden_ids=frozenset(),
        liked_ids=(9,),
    )
    liked = FeedbackPapers({9: np.array([1, 0, 0], dtype=np.float32)}, {9: "A liked paper"})
    gc.disable()
    try:
        views = ReaderViews(
            CandidateVectors.of(
                candidates,
                PaperFeatures(np.eye(3, dtype=np.float32), sparse.csr_matrix((3, 5), dtype=np.float32)),
            ),
            {7: taste},
            liked,
            candidates,
            {7: candidates},
        )
        assert views.view(7).reasons.get(1) == "Like “A liked paper”, a paper you liked"
        freed = weakref.ref(views)
        del views
        assert freed() is None
    finally:
        gc.enable()


def test_a_pick_only_the_readers_votes_brought_in_says_so() -> None:
    from datetime import UTC, datetime, timedelta

    from newsletter.digests.select import DAILY_MAX_AGE, Selector, Taste, scored_candidate, trending_order
    from newsletter.digests.trending import TrendingSignals
    from newsletter.feedback.ranking import PersonalView

    now = datetime(2026, 11, 20, 8, tzinfo=UTC)
    published = now - timedelta(hours=2)
    candidates = trending_order(
        scored_candidate(paper_id, f"2611.0000{paper_id}", 1, ("NLP",), signals, now, published)
        for paper_id, signals in (
            (1, TrendingSignals(30, None, published, None, None)),
            (2, TrendingSignals(20, None, published, None, None)),
            (3, TrendingSignals(10, None, published, None, None)),
        )
    )
    selector = Selector(candidates, {}, 4)
    taste = Taste(frozenset({"NLP"}), (), 2)
    since, fresh_after = now - timedelta(days=1), now - DAILY_MAX_AGE
    trending = selector.select(taste, since, fresh_after, frozenset())
    assert [item.paper_id for item in trending.items] == [1, 2]
    # The votes put the third paper first: the trending order alone would not have picked it.
    voted = selector.select(taste, since, fresh_after, frozenset(), PersonalView([3, 2, 1], {}))
    reasons = {item.paper_id: item.reason for item in voted.items}
    assert reasons == {
        3: "Picked by your votes · Trending #3 in NLP · 10 upvotes",
        2: "Trending #2 in NLP · 20 upvotes",
    }
    # A pick like a liked paper says that instead.
    liked = selector.select(
        taste, since, fresh_after, frozenset(), PersonalView([3, 2, 1], {3: "Like “X”, a paper you liked"})
    )
    assert liked.items[0].reason == "Like “X”, a paper you liked"
