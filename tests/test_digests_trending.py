from datetime import UTC, date, datetime, timedelta

from newsletter.digests.trending import TrendingSignals, signal_phrase, trending_score

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def signals(upvotes=None, stars=None, age_hours=0.0, featured=None) -> TrendingSignals:
    return TrendingSignals(
        upvotes=upvotes,
        github_stars=stars,
        published_at=NOW - timedelta(hours=age_hours),
        updated_at=None,
        featured_date=featured,
    )


def test_more_upvotes_score_higher_but_dampened() -> None:
    ten, hundred, thousand = (trending_score(signals(upvotes=n), NOW) for n in (10, 100, 1000))
    assert ten < hundred < thousand
    # Logarithmic: ten times the upvotes adds a constant, not ten times the score.
    assert (thousand - hundred) < 1.1 * (hundred - ten)
    assert thousand < 3 * ten


def test_arxiv_only_papers_get_a_prior_between_one_and_three_upvotes() -> None:
    prior = trending_score(signals(upvotes=None), NOW)
    assert trending_score(signals(upvotes=1), NOW) < prior < trending_score(signals(upvotes=3), NOW)


def test_github_stars_add_to_the_score() -> None:
    assert trending_score(signals(upvotes=5, stars=500), NOW) > trending_score(signals(upvotes=5), NOW)


def test_score_halves_every_three_days() -> None:
    fresh = trending_score(signals(upvotes=20), NOW)
    old = trending_score(signals(upvotes=20, age_hours=72), NOW)
    assert abs(old - fresh / 2) < 1e-9


def test_featured_date_counts_as_activity() -> None:
    stale = signals(upvotes=20, age_hours=240)
    featured = signals(upvotes=20, age_hours=240, featured=date(2026, 11, 21))
    assert trending_score(featured, NOW) > 4 * trending_score(stale, NOW)


def test_signal_phrase_names_the_signal() -> None:
    assert signal_phrase(signals(upvotes=42)) == "42 upvotes"
    assert signal_phrase(signals(upvotes=1)) == "1 upvote"
    assert signal_phrase(signals(upvotes=3, stars=1200)) == "3 upvotes, 1,200 GitHub stars"
    assert signal_phrase(signals(upvotes=1, stars=1)) == "1 upvote, 1 GitHub star"
    assert signal_phrase(signals()) == "new on arXiv"
    assert signal_phrase(signals(upvotes=0)) == "new on Hugging Face"
    assert signal_phrase(signals(upvotes=0, stars=443)) == "443 GitHub stars"
