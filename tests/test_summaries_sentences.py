import pytest

from newsletter.summaries.sentences import is_complete_sentence, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "We use large models, e.g. BERT, and i.e. GPT variants. They work.",
            ["We use large models, e.g. BERT, and i.e. GPT variants.", "They work."],
        ),
        (
            "Accuracy rose by 3.5% to 91.2 points. The gain is 2.5x.",
            ["Accuracy rose by 3.5% to 91.2 points.", "The gain is 2.5x."],
        ),
        (
            r"Sorting takes $O(n \log n)$ time. The bound $x = 1. Y$ holds. We stop.",
            [r"Sorting takes $O(n \log n)$ time.", "The bound $x = 1. Y$ holds.", "We stop."],
        ),
        (
            "As shown by Chen et al. (2021), pruning helps. We agree.",
            ["As shown by Chen et al. (2021), pruning helps.", "We agree."],
        ),
        (
            "It compares against approx. ten baselines vs. the oracle. Done!",
            ["It compares against approx. ten baselines vs. the oracle.", "Done!"],
        ),
        (
            'Why does it work? We explain it. The answer is "scale." Then more.',
            ["Why does it work?", "We explain it.", 'The answer is "scale."', "Then more."],
        ),
        (
            "It has three benefits: 1. It is fast. 2. It is small.",
            ["It has three benefits: 1. It is fast.", "2. It is small."],
        ),
        (
            "Code is at https://github.com/a/b.c. The rest follows.",
            ["Code is at https://github.com/a/b.c.", "The rest follows."],
        ),
        ("Written by J. Smith and co. in 2020. Next.", ["Written by J. Smith and co. in 2020.", "Next."]),
    ],
)
def test_split_sentences_keeps_abbreviations_decimals_and_latex_inside_sentences(text, expected):
    assert split_sentences(text).sentences == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "We test approx. 30 tasks (incl. ResNets, ViTs, etc.) and confirm the theory. Our results hold.",
            [
                "We test approx. 30 tasks (incl. ResNets, ViTs, etc.) and confirm the theory.",
                "Our results hold.",
            ],
        ),
        (
            "The factor agrees with (Nucl. Phys. A625 (1997) 893) within errors. We extend it to pep.",
            ["The factor agrees with (Nucl. Phys. A625 (1997) 893) within errors.", "We extend it to pep."],
        ),
        (
            "We propose a sampler (see Fig. 2.) The sampler is exact. Done.",
            ["We propose a sampler (see Fig. 2.)", "The sampler is exact.", "Done."],
        ),
        # A parenthesis never closed does not swallow the rest of the abstract.
        (
            "A stray ( opens here. Then a sentence follows. Another one ends it.",
            ["A stray ( opens here.", "Then a sentence follows.", "Another one ends it."],
        ),
        (
            "This follows the bound of Smith et al. Our results differ from theirs. We show more.",
            ["This follows the bound of Smith et al.", "Our results differ from theirs.", "We show more."],
        ),
    ],
)
def test_periods_inside_parentheses_end_nothing_and_a_citation_can_end_a_sentence(text, expected):
    assert split_sentences(text).sentences == expected


def test_split_sentences_reports_a_cut_short_ending_as_a_fragment():
    split = split_sentences("We propose a model. It beats the baseline. Experiments on ImageNet sho")

    assert split.sentences == ["We propose a model.", "It beats the baseline."]
    assert split.fragment == "Experiments on ImageNet sho"


def test_split_sentences_treats_a_trailing_url_as_a_fragment_not_a_sentence():
    split = split_sentences("We propose a model. Code: https://github.com/x/y")

    assert split.sentences == ["We propose a model."]
    assert split.fragment == "Code: https://github.com/x/y"


def test_split_sentences_normalises_whitespace_and_handles_empty_text():
    assert split_sentences("  One   line\nhere.  Two.\n").sentences == ["One line here.", "Two."]
    assert split_sentences("   ").sentences == []


def test_is_complete_sentence_rejects_fragments_and_urls():
    assert is_complete_sentence("We stop here.")
    assert not is_complete_sentence("We stop he")
    assert not is_complete_sentence("Code: https://github.com/x/y.")
