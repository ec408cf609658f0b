"""The offline default: a structured summary built only from the abstract's own sentences."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsletter.plaintext.autolinks import has_autolink
from newsletter.plaintext.latex import has_latex_debris
from newsletter.summaries.guard import MEASURED, numbers_in, numbers_not_in
from newsletter.summaries.model import PaperText, StructuredSummary
from newsletter.summaries.notes import as_note, is_inside_aside, name_in_title, with_method_name
from newsletter.summaries.sentences import is_complete_sentence, split_sentences
from newsletter.tagging import tag_papers, tag_topics

BACKEND = "extractive"
# Bump when the output for the same input changes: stored summaries are keyed by it.
BACKEND_VERSION = "extractive-8"
ROLES = ("background", "method", "result", "implication")
MAX_SECTION_SENTENCES = 3
# A key point of about this length or less reads as a note; longer ones are chosen only if they say more.
NOTE_CHARS = 110
# Notes a paper gets at least, when its abstract has them; a fourth note is at most this long (the
# editor's longest).
MIN_NOTES = 3
EXTRA_NOTE_CHARS = 140
# A sentence that states the paper's own finding or contribution, wherever it stands in the abstract ("We
# first show …", "Our main contribution is …"); one that states the problem it takes on ("We address
# the challenge of …") is background still.
OWN_WORK = re.compile(
    r"\b(?:we|this (?:paper|work|study)|the paper)\s+(?:first\s+|also\s+|further\s+)?"
    r"(?:show|prove|find|identify|observe|demonstrate|establish|derive|reveal|uncover)\w*\b"
    r"|\bour (?:main |key |primary )?contributions?\b",
    re.IGNORECASE,
)

# A comparative or result verb: a result sentence's cue, and what makes a measured value the paper's result.
RESULT_STATEMENT = re.compile(
    r"\b(outperform\w*|surpass\w*|achiev\w*|improv\w*|reduc\w*|speed ?up\w*|state-of-the-art|"
    r"sota|accuracy|faster|better|lower|higher|competitive|comparable|gains?)\b"
)
CUES: dict[str, list[tuple[re.Pattern[str], float]]] = {
    "background": [
        (
            re.compile(
                r"\b(however|despite|although|remains?|challeng\w*|bottleneck|limitation\w*|drawback|"
                r"suffer\w*|struggle\w*|lack\w*|costly|expensive|prohibitive|hinder\w*|fail\w*)\b"
            ),
            1.0,
        ),
        (
            re.compile(
                r"\b(recent(ly)?|existing|traditional|conventional|prior|previous|widely|popular|"
                r"has (become|emerged|gained|shown|achieved)|have (become|emerged|gained|shown|achieved))\b"
            ),
            0.8,
        ),
    ],
    "method": [
        (
            re.compile(
                r"\b(we|this (paper|work|study|report)|in this (paper|work))\b[^.]{0,60}\b(propose|"
                r"introduce|present|develop|design|formulate|describe|devise|adopt)\w*"
            ),
            2.5,
        ),
        (
            re.compile(
                r"\b(we|our)\b[^.]{0,40}\b(use|leverage|employ|model|train|build|construct|combine|"
                r"apply|frame|reformulate|decompose|study|investigate|consider|analy[sz]e|extend)\w*"
            ),
            1.2,
        ),
        (
            re.compile(
                r"\b(framework|architecture|algorithm|approach|method|module|mechanism|strategy|"
                r"consists? of|based on|by (using|leveraging|introducing)|in which|first|then|stage)\b"
            ),
            0.6,
        ),
    ],
    "result": [
        (re.compile(r"\b(experiment\w*|results?|empirical\w*|evaluat\w*|benchmark\w*|ablation\w*)\b"), 1.2),
        (RESULT_STATEMENT, 1.0),
        (
            re.compile(
                r"\b(we (show|find|found|observe|demonstrate|prove|verify|confirm)|show(s|n)? that|"
                r"demonstrat\w+)\b"
            ),
            1.0,
        ),
        (re.compile(r"\d(?:\.\d+)?\s?(%|×|x\b|times\b)"), 1.5),
    ],
    "implication": [
        (
            re.compile(
                r"\b(enabl\w*|suggest\w*|implication\w*|pav\w* the way|open\w* (up|new)|potential|"
                r"future|insights?|practical|we hope|highlight\w*|broad\w*|facilitat\w*|promising|"
                r"shed\w* light|underscore\w*|opportunit\w*|applicab\w*|real-world|deploy\w*)\b"
            ),
            1.2,
        ),
        (
            re.compile(
                r"\b(can be (used|applied|extended)|general(ly)? applicable|paradigm|foundation for|"
                r"step toward\w*|we (believe|argue|anticipate|envision))\b"
            ),
            1.2,
        ),
    ],
}
# What a formula is written with, beside letters and digits: relations, operators, sub- and superscripts.
MATH_SYMBOLS = re.compile(r"[=+^_<>≤≥≠≈∈∉⊂⊆∣∑∏∫√∞·]|[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ᵃ-ᶻₐ-ₜ]")
FORMULA_SYMBOLS = 4
# Plus signs that end a name ("PFGM++", "C++", "Llama+") are no operators.
NAME_PLUSES = re.compile(r"(?<=\w)\++(?!\w)")
CONTRIBUTION = re.compile(
    r"\b(we|this (paper|work|study|report|article)|in this (paper|work))\b[^.]{0,120}\b(propose|introduce|"
    r"present|develop|design|adopt|study|investigate|explore|consider|analy[sz]e|describe)\w*"
)
WORD = re.compile(r"[a-z][a-z0-9\-]+")
STOPWORD_TEXT = (
    "a an the and or of to in on for with by from as at is are was were be been being this that these those "
    "it its we our they their which who whom whose than then there here such can could may might will would "
    "should not no into over under between while also both each more most less many much very using use used "
    "based via new show shows paper work propose proposed approach method methods model models results however "
    "has have had do does did how what when where why all any other some only well one two three"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())


@dataclass
class ScoredSentence:
    index: int
    text: str
    role: str
    role_scores: dict[str, float]
    informativeness: float
    # The sentence rewritten as a self-contained note, or None if it cannot stand alone.
    note: str | None = None


class ExtractiveSummarizer:
    backend = BACKEND
    backend_version = BACKEND_VERSION
    model: str | None = None
    version_key = BACKEND_VERSION

    def summarize(self, paper: PaperText) -> StructuredSummary:
        started = time.perf_counter()
        summary = summarize_extractively(paper)
        summary.duration_s = time.perf_counter() - started
        return summary

    def summarize_many(self, papers: Sequence[PaperText]) -> list[StructuredSummary]:
        # Tagging a batch at once is vectorized: about twice as fast per paper as one at a time.
        started = time.perf_counter()
        topics = tag_papers(papers)
        tagging_share = (time.perf_counter() - started) / max(len(papers), 1)
        summaries = []
        for paper, paper_topics in zip(papers, topics, strict=True):
            started = time.perf_counter()
            summary = summarize_extractively(paper, paper_topics)
            summary.duration_s = time.perf_counter() - started + tagging_share
            summaries.append(summary)
        return summaries


def summarize_extractively(paper: PaperText, topics: list[str] | None = None) -> StructuredSummary:
    """`topics` when already tagged (a batch is tagged at once), else tagged here."""
    scored = score_sentences(paper.title, paper.abstract)
    if topics is None:
        topics = tag_topics(paper.title, paper.abstract, paper.categories)
    if not scored:
        # Nothing usable in the abstract: the title is the only text from the paper we may repeat.
        title = paper.title.strip()
        return _summary([title], title, title, title, title, topics)
    name = name_in_title(paper.title)
    known_numbers = numbers_in(f"{paper.title} {paper.abstract}")

    def checked_note(sentence: ScoredSentence, *, strict: bool = True) -> str | None:
        text, is_background = sentence.text, sentence.role == "background"
        note = as_note(text, name, strict=strict, context=is_background)
        if note is None and strict and not is_background and _is_result_statement(text):
            # A result sentence too long for a note keeps its first measured clause; the rest (a second
            # and third measure, a comparison) is the results section's.
            clause = _first_measured_clause(text)
            note = as_note(clause, name) if clause else None
        # The rewrite never adds a number; the guard keeps that true whatever the rules become. An editor's
        # note states a formula's meaning, never the formula ("a favorable regret bound of O(D A T K_T
        # log(T/δ) + K_T log(K_T/δ)/min_ℓ KL(θ⁽ˡ⁺¹⁾∣θ⁽ˡ⁾))").
        if note is None or numbers_not_in(note, known_numbers) or _states_a_formula(note):
            return None
        return note

    for sentence in scored:
        sentence.note = checked_note(sentence)
    key_points = _key_points(scored, lambda sentence: checked_note(sentence, strict=False))
    # Sections tell what the key points do not: the sentences behind the key points are not reused.
    used = _indexes(key_points)
    summary_part = [s for s in _summary_sentences(scored) if s.index not in used]
    used |= _indexes(summary_part)
    results = _section(scored, "result", used, fallback=_best_unused(scored, "result", used))
    used |= _indexes(results)
    implications = _section(scored, "implication", used, fallback=_outlook(scored, used))
    used |= _indexes(implications)
    methodology = _section(scored, "method", used, fallback=[])
    used |= _indexes(methodology)
    if not (summary_part or results or implications or methodology):
        # Every section came out empty while sentences are left: the summary tells the first of them.
        summary_part = [s for s in scored if s.index not in used][:1]
    return _summary(
        [s.note or s.text for s in key_points],
        _join(summary_part, name),
        _join(methodology, name),
        _join(results, name),
        _join(implications, name),
        topics,
    )


def score_sentences(title: str, abstract: str) -> list[ScoredSentence]:
    candidates = [
        text
        for text in split_sentences(abstract).sentences
        if is_complete_sentence(text)
        and not has_autolink(text)
        # Markup a source left (`\href{…}{here}` read "{here"), or what is left of a formula a source
        # stripped ("KL(θ^(ell)midmathbfθ)"), is shown nowhere.
        and not has_latex_debris(text)
        and len(text.split()) >= 4
    ]
    salience = _word_salience(title, candidates)
    contribution = _contribution_index(candidates)
    last = len(candidates) - 1
    scored = []
    for index, text in enumerate(candidates):
        lowered = text.lower()
        role_scores = {role: sum(w for pattern, w in CUES[role] if pattern.search(lowered)) for role in ROLES}
        # Abstracts follow a known arc: context, then the contribution, then method detail, results, outlook.
        if index < contribution:
            role = "background"
        elif index == contribution:
            role = "method"
        else:
            role_scores["method"] += 0.8
            role_scores["implication"] += 1.2 if index == last else 0.0
            role = max(("method", "result", "implication"), key=lambda r: role_scores[r])
        words = [w for w in WORD.findall(lowered) if w not in STOPWORDS]
        informativeness = sum(salience.get(w, 0.0) for w in set(words)) / math.sqrt(len(words) + 4)
        scored.append(ScoredSentence(index, text, role, role_scores, informativeness))
    return scored


def _contribution_index(sentences: list[str]) -> int:
    for index, text in enumerate(sentences):
        if CONTRIBUTION.search(text.lower()):
            return index
    # No "we propose": papers state context in about the first third.
    return len(sentences) // 3


def _word_salience(title: str, sentences: list[str]) -> dict[str, float]:
    # Words the abstract repeats, and words from the title, carry what the paper is about.
    counts: Counter[str] = Counter()
    for sentence in sentences:
        counts.update({w for w in WORD.findall(sentence.lower()) if w not in STOPWORDS})
    salience = {word: math.log1p(count) for word, count in counts.items() if count > 1}
    for word in WORD.findall(title.lower()):
        if word not in STOPWORDS:
            salience[word] = salience.get(word, 0.0) + 1.0
    return salience


def _summary_sentences(scored: list[ScoredSentence]) -> list[ScoredSentence]:
    contribution = next((s for s in scored if s.role == "method"), scored[0])
    before = [s for s in scored if s.index < contribution.index]
    if not before:
        return [contribution]
    # The context sentence that names the problem, closest to the contribution on a tie.
    context = max(before, key=lambda s: (s.role_scores["background"], s.index))
    return [context, contribution]


def _section(
    scored: list[ScoredSentence], role: str, used: set[int], fallback: list[ScoredSentence]
) -> list[ScoredSentence]:
    chosen = sorted(
        (s for s in scored if s.role == role and s.index not in used), key=lambda s: -s.role_scores[role]
    )
    return sorted(chosen[:2], key=lambda s: s.index) or fallback


def _outlook(scored: list[ScoredSentence], used: set[int]) -> list[ScoredSentence]:
    # Abstracts end on their outlook; if the last sentence is taken, the unused one after the
    # contribution leaning most towards an implication, else nothing.
    if scored[-1].index not in used:
        return [scored[-1]]
    after = [s for s in scored if s.role != "background" and s.index not in used]
    leaning = [s for s in after if s.role_scores["implication"] > 0]
    return [max(leaning, key=lambda s: s.role_scores["implication"])] if leaning else []


def _best_unused(scored: list[ScoredSentence], role: str, used: set[int]) -> list[ScoredSentence]:
    # No sentence has this role: the unused one leaning most towards it, else nothing (never a repeat).
    pool = [s for s in scored if s.index not in used and s.role != "background"]
    return [max(pool, key=lambda s: (s.role_scores[role], s.index))] if pool else []


def _key_points(
    scored: list[ScoredSentence], fallback_note: Callable[[ScoredSentence], str | None]
) -> list[ScoredSentence]:
    """The 3-4 notes to show; `fallback_note` rewrites a sentence without the rules that only drop, asked
    for only when a paper is short of three notes."""
    wanted = 4 if len(scored) >= 8 else 3
    role_weight = {"background": 0.6, "method": 1.1, "result": 1.15, "implication": 0.9}

    def weight(sentence: ScoredSentence) -> float:
        # Short notes read best: a long one must carry more to be chosen, twice as much at 1.4 times the
        # length (a 155-character note against a 110-character one).
        brevity = min(1.0, NOTE_CHARS / max(len(sentence.note or ""), 1)) ** 2
        return sentence.informativeness * role_weight[sentence.role] * brevity

    ranked = sorted((s for s in scored if s.note), key=lambda s: -weight(s))
    chosen: list[ScoredSentence] = []

    def pick(pool: list[ScoredSentence], limit: int) -> None:
        for sentence in pool:
            if len(chosen) >= limit:
                return
            if any(_overlap(sentence.note or "", other.note or "") >= 0.6 for other in chosen):
                continue
            # Three notes carry a paper; a fourth is the next best one, if it is short, or none: never a
            # weaker short one found further down (a code release, a hope) in place of a long finding.
            if len(chosen) >= MIN_NOTES and len(sentence.note or "") > EXTRA_NOTE_CHARS:
                return
            chosen.append(sentence)

    # Notes say what the paper does and finds. The field's background ("Multimodal models have shown
    # remarkable success…") is what the reader knows already (an editor's notes hold it about once in
    # fifty): it only fills a paper up to three notes. A sentence before the contribution that states the
    # paper's own finding ("We first show …", "Our main contribution is …") is no background.
    own = [s for s in ranked if not _is_field_background(s)]
    pick(own, wanted)
    # The paper's headline result, when the abstract measures one ("task success improves from 61.2% to
    # 87.4%"), is one of its notes, as in the editor's ("Achieves a stable 2.91x compression ratio"):
    # salience counts the words an abstract repeats, and a result's numbers and benchmark names are said
    # once.
    headline = next((s for s in own if _is_measured_result(s)), None)
    if headline is not None and not any(_is_measured_result(s) for s in chosen):
        chosen.clear()
        pick([headline], 1)
        pick(own, wanted)
    pick([s for s in ranked if _is_field_background(s)], MIN_NOTES)
    if len(chosen) < MIN_NOTES:
        # Short of three: the notes the strict rules refused, best first.
        spare = [s for s in scored if s.note is None]
        for sentence in spare:
            sentence.note = fallback_note(sentence)
        pick(sorted((s for s in spare if s.note), key=lambda s: -weight(s)), MIN_NOTES)
    return sorted(chosen, key=lambda s: s.index)


def _states_a_formula(note: str) -> bool:
    return len(MATH_SYMBOLS.findall(NAME_PLUSES.sub("", note))) >= FORMULA_SYMBOLS


def _is_measured_result(sentence: ScoredSentence) -> bool:
    return _is_result_statement(sentence.note or "")


def _is_result_statement(text: str) -> bool:
    return MEASURED.search(text) is not None and RESULT_STATEMENT.search(text.lower()) is not None


def _first_measured_clause(text: str) -> str | None:
    """The sentence up to the comma or semicolon that ends its first measured clause ("X improves on-time
    picks from 71.5% to 88.2%, cuts travel distance from …" ends before "cuts"), or None: never inside
    brackets or an enumeration, nor between measures that share what follows them ("71.5%, 80.2% and
    88.9% on-time picks")."""
    first = MEASURED.search(text)
    if first is None:
        return None
    for match in re.finditer(r"[,;] ", text[first.end() :]):
        end = first.end() + match.start()
        head, rest = text[:end], text[end + 2 :]
        if is_inside_aside(head):
            continue
        return None if rest[:1].isdigit() else f"{head}."
    return None


def _is_field_background(sentence: ScoredSentence) -> bool:
    return sentence.role == "background" and OWN_WORK.search(sentence.text) is None


def _overlap(first: str, second: str) -> float:
    a, b = set(WORD.findall(first.lower())), set(WORD.findall(second.lower()))
    return len(a & b) / max(min(len(a), len(b)), 1)


def _indexes(sentences: list[ScoredSentence]) -> set[int]:
    return {s.index for s in sentences}


def _join(sentences: list[ScoredSentence], name: str | None) -> str:
    # A section is read without the sentences before it: "It performs …" names the method, as a note does,
    # once the abstract has said what the method is (before, "It requires …" is said of the problem).
    return " ".join(
        s.text if s.role == "background" else with_method_name(s.text, name)
        for s in sentences[:MAX_SECTION_SENTENCES]
    )


def _summary(
    key_points: list[str], summary: str, methodology: str, results: str, implications: str, topics: list[str]
) -> StructuredSummary:
    return StructuredSummary(
        key_points=key_points,
        summary=summary,
        methodology=methodology,
        results=results,
        implications=implications,
        topics=topics,
        backend=BACKEND,
        model=None,
        backend_version=BACKEND_VERSION,
    )
