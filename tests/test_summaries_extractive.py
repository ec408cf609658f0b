import json
from pathlib import Path

import pytest

from newsletter.plaintext.latex import has_latex_debris
from newsletter.summaries import guard
from newsletter.summaries.extractive import BACKEND_VERSION, ExtractiveSummarizer
from newsletter.summaries.hashing import input_hash
from newsletter.summaries.model import PaperText
from newsletter.summaries.notes import name_in_title
from newsletter.summaries.readability import is_dangling
from newsletter.summaries.sentences import normalize_whitespace, split_sentences
from newsletter.tagging.taxonomy import topic_names

CORPUS = Path(__file__).resolve().parent / "fixtures" / "corpus" / "papers.json"
SECTIONS = ("summary", "methodology", "results", "implications")


def corpus_papers() -> list[PaperText]:
    records = json.loads(CORPUS.read_text("utf-8"))
    return [PaperText(r["title"], r["abstract"], id=str(i)) for i, r in enumerate(records)]


PAPERS = corpus_papers()
SUMMARIZER = ExtractiveSummarizer()


def assert_well_formed(paper: PaperText) -> None:
    result = SUMMARIZER.summarize(paper)
    abstract = normalize_whitespace(paper.abstract)
    complete_sentences = set(split_sentences(paper.abstract).sentences)

    # Key points are notes rewritten from the abstract (tests/test_summaries_notes.py checks how).
    assert 1 <= len(result.key_points) <= 4, result.key_points
    assert len(set(result.key_points)) == len(result.key_points)
    for point in result.key_points:
        assert len(point) <= 200 and not is_dangling(point), point
        assert point[-1] in ".!?\"')", point
    # Sections are sentences of the abstract, none repeated and none behind a key point; "It <verb> …" may
    # name the method the title names.
    method = name_in_title(paper.title)
    section_sentences = []
    for name in SECTIONS:
        sentences = split_sentences(getattr(result, name)).sentences
        assert len(sentences) <= 3, (name, sentences)
        for sentence in sentences:
            if method and sentence.startswith(f"{method} ") and sentence not in complete_sentences:
                sentence = "It" + sentence.removeprefix(method)
            assert sentence in abstract, (name, sentence)
            assert sentence in complete_sentences, (name, sentence)
        section_sentences.extend(sentences)
    assert len(section_sentences) == len(set(section_sentences))
    # A sentence holding LaTeX debris is shown nowhere (these tests feed the source's text, braces and all).
    shown_sentences = {sentence for sentence in complete_sentences if not has_latex_debris(sentence)}
    assert section_sentences or len(shown_sentences) <= len(result.key_points) + 1
    assert 1 <= len(result.topics) <= 3
    assert set(result.topics) <= set(topic_names())
    assert len(set(result.topics)) == len(result.topics)


def test_corpus_is_large_enough_to_mean_something():
    assert len(PAPERS) >= 200


@pytest.mark.parametrize("paper", PAPERS, ids=lambda p: p.id)
def test_every_corpus_paper_gets_a_well_formed_summary(paper):
    assert_well_formed(paper)


def test_nearly_every_corpus_paper_gets_three_or_four_key_points():
    counts = [len(SUMMARIZER.summarize(paper).key_points) for paper in PAPERS]
    assert sum(3 <= count <= 4 for count in counts) >= 0.95 * len(PAPERS)


@pytest.mark.parametrize("cut", [0.55, 0.8])
def test_abstracts_cut_short_mid_word_never_yield_a_point_ending_mid_word(cut):
    for paper in PAPERS:
        length = int(len(paper.abstract) * cut)
        # Cut inside a word, as listing pages do.
        while length < len(paper.abstract) and paper.abstract[length - 1].isspace():
            length += 1
        truncated = PaperText(paper.title, paper.abstract[:length], id=paper.id)
        fragment = split_sentences(truncated.abstract).fragment
        if len(split_sentences(truncated.abstract).sentences) < 4:
            continue
        result = SUMMARIZER.summarize(truncated)
        assert_well_formed(truncated)
        if fragment:
            outputs = [*result.key_points, *(getattr(result, name) for name in SECTIONS)]
            assert not any(text.endswith(fragment) for text in outputs), (paper.id, fragment)


def test_key_points_prefer_contribution_and_result_sentences_over_context():
    paper = PaperText(
        "Sparse Widgets for Fast Inference",
        "Neural networks are widely used. Many papers study them. However, inference remains slow on "
        "small devices. We propose sparse widgets, a pruning method that removes redundant widget weights. "
        "Sparse widgets prune weights by magnitude and then retrain the remaining widgets. "
        "Experiments on ImageNet show that sparse widgets are 3.1x faster at equal accuracy. "
        "Sparse widgets make fast inference on small devices practical.",
    )

    result = SUMMARIZER.summarize(paper)

    assert not any("Many papers" in point for point in result.key_points)
    assert "Introduction of sparse widgets, a pruning method that removes redundant widget weights." in (
        result.key_points
    )
    assert any("3.1x faster" in point for point in result.key_points) or "3.1x faster" in result.results
    assert "inference remains slow" in result.summary
    # The contribution is a key point, so the summary does not say it again.
    assert "We propose sparse widgets" not in result.summary


@pytest.mark.parametrize(
    ("title", "background"),
    [
        ("ScaleLong", "In diffusion models, UNet is the most popular network backbone."),
        ("CrisisTransformers", "Social media platforms play an essential role in crisis communication."),
    ],
)
def test_a_corpus_papers_background_is_no_key_point_when_it_says_enough_of_its_own(title, background):
    [paper] = [paper for paper in PAPERS if paper.title.startswith(title)][:1]
    points = SUMMARIZER.summarize(paper).key_points
    assert len(points) >= 3 and background not in points, points


def test_background_only_fills_a_paper_up_to_three_notes():
    background = (
        "Multimodal large language models have demonstrated remarkable success in visual understanding."
    )
    paper = PaperText(
        "Sparse Widgets for Fast Inference",
        f"{background} However, inference remains slow on small devices. "
        "We propose sparse widgets, a pruning method that removes redundant widget weights. "
        "Sparse widgets prune weights by magnitude and then retrain the remaining widgets. "
        "Experiments on ImageNet show that sparse widgets are 3.1x faster at equal accuracy. "
        "On COCO detection, sparse widgets keep 99% of the dense model's mean average precision.",
    )
    points = SUMMARIZER.summarize(paper).key_points
    assert len(points) >= 3 and background not in points, points
    # An abstract with too little of its own to say keeps its background as a third note.
    thin = PaperText(
        "Sparse Widgets",
        f"{background} Inference on small devices is slow. We propose sparse widgets, a pruning method for "
        "small devices.",
    )
    assert background in SUMMARIZER.summarize(thin).key_points


def test_summary_records_its_provenance():
    result = SUMMARIZER.summarize(PAPERS[0])

    assert result.backend == "extractive"
    assert result.backend_version == BACKEND_VERSION
    assert result.model is None
    assert result.fallback_reason is None
    assert result.to_dict()["key_points"] == result.key_points


def test_an_empty_abstract_still_yields_sections_from_the_title_only():
    result = SUMMARIZER.summarize(PaperText("Graph Neural Networks for Traffic Forecasting", ""))

    assert result.summary == "Graph Neural Networks for Traffic Forecasting"
    assert 1 <= len(result.topics) <= 3


def test_input_hash_ignores_whitespace_but_not_words_or_backend_version():
    paper = PaperText("A title", "An abstract about things.")
    same_but_spaced = PaperText(" A  title", "An abstract\nabout things. ")
    changed = PaperText("A title", "An abstract about other things.")

    assert input_hash(paper, BACKEND_VERSION) == input_hash(same_but_spaced, BACKEND_VERSION)
    assert input_hash(paper, BACKEND_VERSION) != input_hash(changed, BACKEND_VERSION)
    assert input_hash(paper, BACKEND_VERSION) != input_hash(paper, "extractive-0")
    assert len(input_hash(paper, BACKEND_VERSION)) == 64


def test_an_abstract_with_fewer_than_three_sentences_gives_only_those_never_the_cut_fragment():
    paper = PaperText(
        "Graph Models for Graphs",
        "We propose a new model for graphs. It beats baselines by 3.5% on five benchmarks. "
        "Experiments on Cora and Citeseer sho",
    )
    result = SUMMARIZER.summarize(paper)

    # "It beats …" points at the previous sentence: not a key point, but still told in the results.
    assert result.key_points == ["Introduction of a new model for graphs."]
    assert "It beats baselines by 3.5% on five benchmarks." in (result.summary, result.results)
    outputs = [*result.key_points, *(getattr(result, name) for name in SECTIONS)]
    assert not any("sho" in text.split() or text.endswith("sho") for text in outputs)


def test_the_abstract_is_read_for_numbers_once_however_many_sentences_it_has(monkeypatch):
    # Each note's numbers are checked against the paper's; reading the whole abstract again for every
    # sentence made one long abstract (4,000 sentences and 33,000 numbers: minutes) stall a whole batch.
    from newsletter.summaries import extractive

    reads: list[int] = []

    def counted_numbers_in(text: str) -> set[str]:
        reads.append(len(text))
        return guard.numbers_in(text)

    monkeypatch.setattr(extractive, "numbers_in", counted_numbers_in)
    for sentences in (5, 500):
        reads.clear()
        claims = " ".join(f"We propose method {index + 12} for the task." for index in range(sentences))
        result = SUMMARIZER.summarize(PaperText("A title", f"{claims} It reaches 91.5% accuracy.", id="x"))
        assert result.key_points
        assert len(reads) == 1, sentences


def test_the_headline_measured_result_is_a_key_point_though_its_words_are_said_once():
    # Salience counts the words an abstract repeats; a result's numbers and benchmark are said once, so
    # method details that repeat the method's words used to outrank it.
    result = "On Lakeside-900, task success improves from 61.2% to 87.4% over the strongest baseline."
    paper = PaperText(
        "Graph Planners for Warehouse Robots",
        "Warehouse robots must plan routes among moving shelves. "
        "We propose a graph planner that routes warehouse robots over a shelf graph. "
        "The graph planner encodes aisles as nodes with a message-passing encoder. "
        "Warehouse robots share one graph and replan when a shelf moves. "
        "A learned cost model scores each graph edge for the planner. "
        "The planner decodes routes for all warehouse robots at once. "
        "Training needs only logged routes of warehouse robots. "
        f"{result} "
        "The graph planner makes shelf-aware routing of warehouse robots practical.",
    )

    points = SUMMARIZER.summarize(paper).key_points

    assert result in points, points
    assert "Introduction of a graph planner that routes warehouse robots over a shelf graph." in points


def test_a_result_sentence_too_long_for_a_note_gives_its_first_measured_clause():
    result = (
        "In a controlled trial with the same fleet, ShelfNet improves on-time picks from 71.5% to 88.2%, "
        "cuts travel distance from 14.2 km to 9.8 km per shift, and lowers collision alerts from 3.1 to 0.4 "
        "per hour relative to the rule-based planner in use."
    )
    paper = PaperText(
        "ShelfNet: Graph Planning for Warehouse Robots",
        "Warehouse robots must plan routes among moving shelves. "
        "We propose ShelfNet, a graph planner that routes warehouse robots over a shelf graph. "
        "ShelfNet encodes aisles as nodes with a message-passing encoder. "
        "Warehouse robots share one graph and replan when a shelf moves. "
        "A learned cost model scores each graph edge for the planner. "
        f"{result} "
        "ShelfNet makes shelf-aware routing of warehouse robots practical.",
    )
    assert len(result) > 200

    points = SUMMARIZER.summarize(paper).key_points

    assert (
        "In a controlled trial with the same fleet, ShelfNet improves on-time picks from 71.5% to 88.2%."
        in points
    ), points


@pytest.mark.parametrize(
    "result",
    [
        # Measures that share what follows them: "ShelfNet achieves 71.5%." alone would say nothing.
        "Across the three warehouses of the four-month trial with the same fleet and the same shifts, "
        "ShelfNet achieves 71.5%, 80.2%, and 88.9% on-time picks in the small, medium, and large layouts "
        "without any collision alert.",
        # An enumeration begun is not cut before its end.
        "Trials in three warehouses with the same fleet show that ShelfNet (1) improves on-time picks from "
        "71.5% to 88.2%, (2) cuts travel distance from 14.2 km to 9.8 km per shift, and (3) removes the "
        "collision alerts of the rule-based planner entirely.",
    ],
)
def test_a_long_result_sentence_is_not_cut_inside_a_list_of_measures(result):
    paper = PaperText(
        "ShelfNet: Graph Planning for Warehouse Robots",
        "Warehouse robots must plan routes among moving shelves. "
        "We propose ShelfNet, a graph planner that routes warehouse robots over a shelf graph. "
        "ShelfNet encodes aisles as nodes with a message-passing encoder. "
        f"{result} "
        "ShelfNet makes shelf-aware routing of warehouse robots practical.",
    )
    assert len(result) > 200

    points = SUMMARIZER.summarize(paper).key_points

    assert not any(point.endswith(("71.5%.", "88.2%.")) for point in points), points


def test_no_key_point_states_a_formula_and_no_shown_text_keeps_a_stripped_one():
    # An editor's note says what a bound means, never the bound; and what a source's stripped backslashes
    # left of a formula ("midmathbf") is shown nowhere, neither as a note nor in a section.
    paper = PaperText(
        "Restarted Detection for Non-Stationary Bandits",
        "Bandits in changing environments need detectors of change. "
        "We propose ReDet, a restarted change detector for multinomial reward streams. "
        "ReDet enjoys a regret bound of O(K_T log(T/δ) + K_T log(K_T/δ)/min_ℓ KL(θ_ℓ+1 ∣ θ_ℓ)) over T rounds. "
        "ReDet detects abrupt changes with a delay of 3.2 steps while the best baseline needs 7.5 steps. "
        "The kernel is KL(θ midmathbfθ) in the worst case for every stationary stretch of the stream. "
        "ReDet makes restarting practical for non-stationary bandits.",
    )

    result = SUMMARIZER.summarize(paper)

    assert not any("K_T" in point or "min_ℓ" in point for point in result.key_points), result.key_points
    shown = [*result.key_points, *(getattr(result, name) for name in SECTIONS)]
    assert not any("mathbf" in text for text in shown), shown
    assert any("3.2" in point for point in result.key_points), result.key_points
