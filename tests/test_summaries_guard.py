from newsletter.summaries.guard import numbers_in, unsupported_numbers

PAPER = (
    "Meta-ensembles for respiratory sounds. We reach a score of 66.49% on ICBHI, run 10x faster with a "
    "1,024-sample batch, and use 3.50 times fewer parameters than the 13B baseline."
)


def test_guard_catches_invented_percentages_multipliers_and_model_sizes():
    answer = "The method reaches 71.2% and is 494× faster, using a 7B model."

    assert unsupported_numbers(answer, PAPER) == ["71.2%", "494×", "7B"]


def test_guard_accepts_numbers_the_paper_states_in_another_notation():
    answer = "It scores 66.49 % and runs 10× faster with 1024 samples, 3.5 times fewer than the 13B model."

    assert unsupported_numbers(answer, PAPER) == []


def test_guard_ignores_small_bare_counts_used_for_enumerations():
    answer = "The framework has (1) a sampler, (2) a scorer and 3 stages."

    assert unsupported_numbers(answer, PAPER) == []


def test_guard_flags_a_large_bare_integer_absent_from_the_paper():
    assert unsupported_numbers("Trained on 354 modules since 2023.", PAPER) == ["354", "2023"]


def test_numbers_in_canonicalises_thousands_separators_and_trailing_zeros():
    assert {"66.49", "10", "1024", "3.5", "13"} <= numbers_in(PAPER)


def test_digits_printed_as_scripts_state_their_own_numbers():
    paper = "A learning rate of 10⁻¹² over 10² steps with ℓ₁₂ penalties."

    assert {"10", "12"} <= numbers_in(paper) and "102" not in numbers_in(paper)
    assert unsupported_numbers("A rate of 10^-12 over 10^2 steps.", paper) == []
    assert unsupported_numbers("A rate of 10⁻¹⁵.", paper) == ["15"]
