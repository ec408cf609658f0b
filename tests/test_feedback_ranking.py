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
