"""The simulated-readers benchmark on a small run: the same seed gives the same editions and figures, the
figures are what the editions say, and readers only learn from what they were sent before."""

from __future__ import annotations

import pytest

from benchmarks.reader_simulation import (
    AFTER_FIRST_DAY,
    Corpus,
    EditionRecord,
    Simulation,
    SimulationConfig,
    load_corpus,
    metrics,
    precision_at,
    simulate,
)

SMALL = SimulationConfig(readers=20, days=10, seed=7)
Run = tuple[Simulation, list[EditionRecord]]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus()


@pytest.fixture(scope="module")
def small_run(corpus: Corpus) -> Run:
    return simulate(SMALL, corpus)


def test_precision_at_5_is_the_share_of_the_first_five_picks_of_interest() -> None:
    wanted = {1: True, 2: False, 3: True, 4: False, 5: False, 6: True, 7: True}
    assert precision_at([1, 2, 3, 4, 5, 6, 7], wanted) == pytest.approx(0.4)
    assert precision_at([6, 7, 2], wanted) == pytest.approx(2 / 3)  # fewer than five picks: of those
    assert precision_at([], wanted) is None


def test_the_same_seed_gives_the_same_editions_and_figures_and_another_seed_differs(
    corpus: Corpus, small_run: Run
) -> None:
    first, first_records = small_run
    second, second_records = simulate(SMALL, corpus)
    _, other_records = simulate(SimulationConfig(readers=20, days=10, seed=8), corpus)

    assert first_records == second_records
    assert metrics(first, first_records) == metrics(second, second_records)
    assert [record.picks for record in other_records] != [record.picks for record in first_records]


def test_the_figures_are_computed_from_the_editions(corpus: Corpus, small_run: Run) -> None:
    simulation, records = small_run
    figures = metrics(simulation, records)
    papers = corpus.by_id

    def precision(picks: tuple[int, ...], reader: int) -> float:
        interest = simulation.readers[reader].interest
        head = picks[:5]
        return sum(interest.matches(papers[paper_id]) for paper_id in head) / len(head)

    after = [record for record in records if record.day >= AFTER_FIRST_DAY and record.picks]
    before = [record for record in records if record.day <= 2 and record.trending_picks]
    expected_after = sum(precision(record.picks, record.reader) for record in after) / len(after)
    expected_plain = sum(precision(record.trending_picks, record.reader) for record in after) / len(after)
    expected_before = sum(precision(record.trending_picks, record.reader) for record in before) / len(before)

    assert figures["precision_at_5_after"] == pytest.approx(expected_after, abs=0.0005)
    assert figures["precision_at_5_unpersonalized"] == pytest.approx(expected_plain, abs=0.0005)
    assert figures["precision_at_5_before"] == pytest.approx(expected_before, abs=0.0005)
    assert figures["lift_at_5"] == pytest.approx(expected_after - expected_plain, abs=0.001)
    assert figures["readers"] == 20 and figures["days"] == 10
    assert figures["votes_per_reader"] == pytest.approx(sum(len(r.votes) for r in records) / 20, abs=0.005)
    assert figures["candidates_per_edition"] == pytest.approx(
        sum(record.candidates for record in records) / len(records), abs=0.05
    )
    assert 0 < figures["precision_at_5_ceiling"] <= 1


def test_readers_vote_only_on_what_they_were_sent_and_learn_only_from_earlier_days(
    corpus: Corpus, small_run: Run
) -> None:
    simulation, records = small_run
    voted_before: dict[int, bool] = {}
    for record in sorted(records, key=lambda record: (record.day, record.reader)):
        assert {paper_id for paper_id, _ in record.votes} <= set(record.picks)
        # Personalized from the day after the first vote on; until then exactly the trending edition.
        assert record.is_personalized == voted_before.get(record.reader, False)
        if not record.is_personalized:
            assert record.picks == record.trending_picks
        voted_before[record.reader] = voted_before.get(record.reader, False) or bool(record.votes)
    assert any(record.is_personalized for record in records)
    spread = sorted(paper.id for day in simulation.by_day.values() for paper, _ in day)
    assert spread == sorted(paper.id for paper in corpus.papers)  # every paper on exactly one day
