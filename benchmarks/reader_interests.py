"""What a simulated reader wants: kinds of paper written as word rules on the title and abstract, within
some tags, never on the embedding the personal model learns from (docs/feedback.md, "How we measure it").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TITLE_END = "\n\n"
# A paper is theory-heavy when its title and abstract use two or more of these.
THEORY_WORDS = re.compile(
    r"theorem|lemma|we prove|proofs?\b|upper bound|lower bound|regret bound|guarantee|provabl|minimax|"
    r"sample complexity|\bconverge"
)


@dataclass(frozen=True)
class Paper:
    id: int
    arxiv_id: str
    title: str
    words: str  # title, TITLE_END and abstract, lower case: what the hidden interests read
    tags: tuple[str, ...]
    upvotes: int | None
    stars: int | None

    @property
    def is_theory_heavy(self) -> bool:
        return len(set(THEORY_WORDS.findall(self.words))) >= 2


@dataclass(frozen=True)
class Interest:
    """One kind of paper a reader cares about: words in the title or abstract, within some tags."""

    name: str
    words: re.Pattern[str]
    within_tags: frozenset[str]  # empty: any tag
    topics: tuple[str, str]  # the topics such a reader follows, the closest first

    def matches(self, paper: Paper) -> bool:
        """A paper is about it when its title says so or its abstract does twice."""
        if self.within_tags and not self.within_tags.intersection(paper.tags):
            return False
        title, _, abstract = paper.words.partition(TITLE_END)
        return self.words.search(title) is not None or len(self.words.findall(abstract)) >= 2


def _interest(name: str, words: str, within: Sequence[str], topics: tuple[str, str]) -> Interest:
    return Interest(name, re.compile(words), frozenset(within), topics)


LLM, NLP, EFFICIENT, OPTIMIZATION, THEORY = (
    "Large Language Models", "NLP", "Efficient ML", "Optimization", "Theory",
)  # fmt: skip
VISION, GENERATIVE, MULTIMODAL = "Computer Vision", "Generative Models", "Multimodal"
INTERESTS = (
    _interest(
        "diffusion and generation",
        r"\bdiffusion|\bdenois|\bscore-based|\bflow matching|\bgans?\b|\bgenerative adversarial|"
        r"\b(?:image|video|3d|audio) generation|\btext-to-(?:image|video|3d)",
        [GENERATIVE, VISION, MULTIMODAL],
        (GENERATIVE, VISION),
    ),
    _interest(
        "reasoning in language models",
        r"\breasoning\b|\bchain[- ]of[- ]thought|\bmath(?:ematical)? (?:problem|reasoning)|\bplanning\b",
        [LLM, NLP],
        (LLM, NLP),
    ),
    _interest(
        "compressing models",
        r"\bquantiz|\bprun(?:e|ed|ing)\b|\bsparsi|\bcompress|\bdistill|\blow-bit|\bbinar",
        [EFFICIENT, LLM],
        (EFFICIENT, LLM),
    ),
    _interest(
        "training and serving systems",
        r"\bdistributed\b|\bcommunication\b|\bgpus?\b|\bthroughput|\blatency|\bhardware|\bserving\b|"
        r"\bdecentrali",
        [EFFICIENT, OPTIMIZATION, LLM],
        (EFFICIENT, OPTIMIZATION),
    ),
    _interest(
        "retrieval and ranking",
        r"\bretriev|\brag\b|\bsearch engine|\bre-?rank|\branking\b|\brecommend|\bpassages?\b|\bquer(?:y|ies)\b",
        [],
        (NLP, LLM),
    ),
    _interest(
        "agents and rewards",
        r"\breinforcement learning|\brewards?\b|\bpolic(?:y|ies)\b|\bagents?\b|\bbandits?\b",
        [],
        ("Reinforcement Learning", LLM),
    ),
    _interest(
        "why networks generalize",
        r"\bgeneraliz|\bsample complexity|\boverparam|\bpac-bayes|\brademacher|\bimplicit bias|\bgrokking",
        [THEORY, OPTIMIZATION],
        (THEORY, OPTIMIZATION),
    ),
    _interest(
        "stochastic optimization",
        r"\bconvergence\b|\bstochastic gradient|\bsgd\b|\badam\b|\blearning rates?\b|\bmomentum\b|"
        r"\bstep ?sizes?\b|\boptimizers?\b",
        [OPTIMIZATION, THEORY],
        (OPTIMIZATION, THEORY),
    ),
    _interest(
        "what models represent",
        r"\binterpretab|\bexplainab|\bmechanistic|\bprobing\b|\bcircuits?\b|\bfeature attribution|"
        r"\bsaliency|\bsparse autoencoder|\bneurons?\b|\binternal representations?|\bwhat .{0,40} learn",
        [],
        ("Interpretability", LLM),
    ),
    _interest(
        "alignment and safety",
        r"\balignment\b|\brlhf\b|\bhuman feedback|\bpreferences?\b|\bsafety\b|\bharmful|\bjailbreak|"
        r"\btoxic",
        [LLM, NLP],
        (LLM, NLP),
    ),
    _interest(
        "seeing",
        r"\bimages?\b|\bvideos?\b|\bvisual\b|\bsegmentation|\bobject detection|\b3d\b|\bpoint clouds?\b",
        [VISION, MULTIMODAL],
        (VISION, MULTIMODAL),
    ),
    _interest(
        "adapting models",
        r"\bfine-?tun|\blora\b|\badapters?\b|\bparameter-efficient|\binstruction[- ]tun|\bprompt(?:s|ing)?\b|"
        r"\bin-context",
        [LLM, NLP, EFFICIENT],
        (LLM, EFFICIENT),
    ),
    _interest(
        "architectures",
        r"\battention\b|\btransformers?\b|\bstate[- ]space|\bmamba\b|\brecurren|\bmixture[- ]of[- ]experts",
        [],
        (LLM, EFFICIENT),
    ),
    _interest(
        "benchmarks and evaluation",
        r"\bbenchmark|\bleaderboard|\bevaluation (?:suite|framework|protocol)|\bhuman evaluation|\bdatasets?\b",
        [LLM, NLP, VISION, MULTIMODAL],
        (LLM, NLP),
    ),
)
THEORY_INTERESTS = {"why networks generalize", "stochastic optimization"}


@dataclass(frozen=True)
class HiddenInterest:
    """What a reader wants: any of `parts`, and, for a reader who skips theory, not a theory-heavy paper."""

    parts: tuple[Interest, ...]
    skips_theory: bool

    def matches(self, paper: Paper) -> bool:
        if self.skips_theory and paper.is_theory_heavy:
            return False
        return any(part.matches(paper) for part in self.parts)
