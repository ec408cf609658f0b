"""Abstract sentences rewritten as an editor's notes: third person, self-contained, short.

An abstract speaks in the first person and leans on what came before ("However, …", "This allows …",
"To this end, we propose …"). A key point is read alone, so each sentence is rewritten by its syntax:
context-only openers are trimmed, "we propose X" becomes "Introduction of X", "our" becomes "the", asides
in brackets and "e.g." lists go, and a sentence whose subject points at another sentence ("This",
"They", "It") is given the paper's name or dropped. Nothing is added that the sentence did not say.
"""

from __future__ import annotations

import itertools
import re

from newsletter.plaintext.shorten import DANGLING_WORDS
from newsletter.summaries.guard import MEASURED
from newsletter.summaries.readability import is_dangling

# Openers that only tie a sentence to the previous one, or set context: trimmed up to their comma.
CONNECTIVE_OPENER = re.compile(
    r"^(?:however|moreover|furthermore|additionally|in addition|specifically|finally|first(?:ly)?|"
    r"second(?:ly)?|third(?:ly)?|then|next|also|besides|meanwhile|instead|in contrast|by contrast|"
    r"consequently|therefore|thus|hence|as a result|overall|notably|importantly|in particular|"
    r"concretely|empirically|experimentally|theoretically|technically|practically|crucially|surprisingly|"
    r"interestingly|to this end|to that end|to do so|to achieve this|in response|"
    # "To address this practical and multifaceted challenge, …": the phrase ends at its comma, or a "we"
    # follows at once; trimmed up to a word inside it, the note would open on "challenge, …".
    r"to address (?:this|these|that|them)(?:\s(?:(?!\bwe\b)[^,]){1,60}(?=,)|(?=,|\s+we\b))|"
    r"to (?:the best of )?our knowledge|"
    # "In addition to making batched edits, MEMIT also edits …": the phrase goes whole, up to its comma.
    r"(?:in contrast to|in addition to|instead of)\s[^,]{1,160}(?=,\s+(?:\S*[A-Z]|(?:the|a|an|our|we|its|their)\b))|"
    r"in this (?:paper|work|study|article|report|letter)|here|in summary|to summarize|"
    r"in short|in practice|in particular|similarly|likewise|further|still|yet|so|and|but|"
    r"beyond (?:this|that)|on the other hand|at the same time|in turn|as such|nonetheless|nevertheless|"
    r"conversely|together|for (?:example|instance)|in (?:this|that) (?:regard|way|case|setting|context)|"
    # Any sentence adverb with its comma: "Unfortunately,", "Conventionally,", "Recently,".
    r"(?!(?:conventionally|traditionally|typically|historically|previously|recently|currently|usually|"
    r"commonly|generally)\b)[a-z]+ly(?=,))"
    # Without its comma an opener may be the first word of a longer phrase: "Instead of relying on fixed
    # rewards, X …" is not "Of relying on fixed rewards, X …".
    r"(?:\s*,\s*|\s+(?!(?:of|to|than|with|from|for)\b))",
    re.IGNORECASE,
)
# "To tackle X, we …", "Building on X, we …", "Unlike prior work, our …": a context clause before the
# subject; trimmed when what follows it is a first-person or "our" statement.
CONTEXT_CLAUSE = re.compile(r"^[A-Za-z][^,]{3,90},\s+(?=(?:we|our)\b)")
FIRST_PERSON_LEAD = re.compile(
    r"^(?:we|(?:this|the) (?:paper|work|study|article|report|letter)|the authors)\s+(?:also\s+|further\s+|then\s+|first\s+|additionally\s+|here\s+|thus\s+|therefore\s+)?(\w+)\s+",
    re.IGNORECASE,
)
# What a first-person verb becomes as a note: "We propose X" -> "Introduction of X".
NOMINAL = {
    "propose": "Introduction of", "proposes": "Introduction of", "introduce": "Introduction of",
    "introduces": "Introduction of", "present": "Introduction of", "presents": "Introduction of",
    "develop": "Development of", "develops": "Development of", "design": "Design of",
    "designs": "Design of", "build": "Construction of", "builds": "Construction of",
    "construct": "Construction of", "constructs": "Construction of",
    "evaluate": "Evaluation of", "evaluates": "Evaluation of", "benchmark": "Benchmarking of",
    "analyze": "Analysis of", "analyzes": "Analysis of", "analyse": "Analysis of", "analyses": "Analysis of",
    "study": "Study of", "studies": "Study of", "investigate": "Investigation of",
    "investigates": "Investigation of", "explore": "Exploration of", "explores": "Exploration of",
    "derive": "Derivation of", "derives": "Derivation of", "establish": "Establishment of",
    "establishes": "Establishment of", "release": "Release of", "releases": "Release of",
    "identify": "Identification of", "identifies": "Identification of", "formulate": "Formulation of",
    "formulates": "Formulation of", "extend": "Extension of", "extends": "Extension of",
    "characterize": "Characterization of", "characterizes": "Characterization of",
    "compare": "Comparison of", "compares": "Comparison of", "examine": "Examination of",
    "examines": "Examination of", "apply": "Application of", "applies": "Application of",
    "adopt": "Adoption of", "adopts": "Adoption of", "revisit": "A fresh look at",
    "revisits": "A fresh look at", "describe": "Description of", "describes": "Description of",
    "achieve": "Achievement of", "achieves": "Achievement of", "obtain": "Achievement of",
    "obtains": "Achievement of", "discuss": "Discussion of", "discusses": "Discussion of",
}  # fmt: skip
# "We show that X" -> "Evidence that X"; "We observe X" -> "Observation of X".
CLAIMS = {
    "show": "Evidence", "shows": "Evidence", "demonstrate": "Demonstration", "demonstrates": "Demonstration",
    "find": "Finding", "finds": "Finding", "observe": "Observation", "observes": "Observation",
    "prove": "Proof", "proves": "Proof", "argue": "Argument", "argues": "Argument",
    "confirm": "Confirmation", "confirms": "Confirmation", "reveal": "Evidence", "reveals": "Evidence",
    "verify": "Verification", "verifies": "Verification", "hypothesize": "Hypothesis",
    "conjecture": "Conjecture", "note": "Observation",
}  # fmt: skip
# "We conduct experiments on X" -> "Experiments on X": the verb says nothing, its object is the note.
# "We use X" -> "Use of X" (`_nominal`).
USE_VERBS = frozenset({"use", "uses", "employ", "employs", "leverage", "leverages", "utilize", "utilizes"})
LIGHT_VERBS = USE_VERBS | frozenset({"conduct", "conducts", "perform", "performs", "provide", "provides",
                                     "offer", "offers", "give", "gives", "report", "reports", "carry", "make",
                                     "makes"})  # fmt: skip
# Inside a note, "these challenges", "such resources", "the aforementioned limitations" point at a sentence
# the reader has not seen (a thing of the paper's, "these methods", reads alone).
POINTER_INSIDE = re.compile(
    r"\baforementioned\b|\b(?:these|those|such)\s+(?!as\b|that\b)([a-z][\w-]*)", re.IGNORECASE
)
# "… of this area", "… this aspect by measuring …", "This improves upon …" inside a note: "this" points
# back too, unless it names the paper ("this short paper") or a thing of the paper's ("this approach").
# "Such that" is a conjunction; "PolyKV addresses this by allowing agents to share one cache" says what
# the paper does in the means-phrase that follows.
POINTER_THIS = re.compile(
    r"\b(?:this|these|those|such)\s+(?!(?:as|that|by|through|via|using)\b)((?:[\w-]+\s*){1,3})",
    re.IGNORECASE,
)
# "Finding that its effectiveness relies on …", "The authors turn its closed-form solution into …": an
# "its"/"their" before the note has named anything it could stand for ("the architecture … improves its
# reliability" has one).
POSSESSIVE = re.compile(r"\b(?:its|their)\b", re.IGNORECASE)
NOTE_LEAD = re.compile(r"^(?:[A-Z]\w+(?:,[^,]*,)? (?:of|that)|(?i:the authors) \w+)\s+")
# "The same anchors also expose …", "The remaining 13% can be attributed to …": the same as, the remaining
# of, what the sentence before said.
POINTING_DETERMINER = re.compile(r"^(?:the same|the remaining|the latter|the former)\b", re.IGNORECASE)
FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "for", "by", "with", "from", "as", "at", "and", "or", "that",
    "which", "is", "are", "was", "were", "be", "been", "it", "this",
})  # fmt: skip
# "Study of it under …", "Exploration of its applicability", "The authors term this the X problem": the
# object is what the sentence before said.
POINTER_OBJECT = re.compile(
    r"^[A-Z]\w+ of (?:it|them|its|their)\b|\b(?:term|terms|call|calls|name|names|refer to|refers to|denote|"
    r"denotes)\s+(?:this|it|these|them)\b"
    # "We instantiate it as LOTUS", "We apply them to …": the first person's object is elsewhere ("We found
    # it best to …" has none).
    r"|^(?i:we|the authors)\s+(?:\w+\s+)?\w+\s+(?:it|them)\s+(?:as|to|on|in|with|for|into|across|against)\b",
)
# Subjects that point at something said elsewhere: "This approach …" names a thing of the paper's, "This
# yields …" or "These are …" points at a sentence the reader has not seen.
POINTING_SUBJECT = re.compile(r"^(?:this|these|that|those|such)\s+(?=[a-z])", re.IGNORECASE)
SINGULAR_POINTER_VERB = re.compile(
    r"^(?:is|was|has|had|can|could|may|might|will|would|should|does|did|also|further|not|in|thus|"
    r"therefore|then|again|alone|however|hence|together|"
    r"\w+[^suiy\W]s)\b",  # "This yields", "This facilitates" (nouns rarely end in a bare -s)
    re.IGNORECASE,
)
PLURAL_POINTER_VERB = re.compile(
    r"^(?:are|were|have|had|can|could|may|might|will|would|should|do|did|also|include|show|suggest|"
    r"indicate|demonstrate|allow|enable|yield|lead|make|provide|offer|help|highlight|reveal|represent|"
    r"underscore|motivate|result|form|constitute|remain|become|serve)\b",
    re.IGNORECASE,
)
# What "This …" may name and still be understood alone: the paper's own contribution ("This framework").
METHOD_NOUNS = frozenset({
    "approach", "method", "framework", "model", "system", "algorithm", "technique", "architecture",
    "design", "strategy", "procedure", "pipeline", "scheme", "formulation", "work", "paper", "study",
    "analysis", "benchmark", "dataset", "tool", "toolkit", "library", "module", "mechanism", "network",
    "representation", "loss", "objective", "estimator", "solver", "protocol", "policy", "agent",
    "implementation", "platform", "suite", "metric", "optimizer", "variant", "extension", "recipe",
    "paradigm", "methodology", "attack", "defense", "regularizer", "encoder", "decoder", "layer",
    "approaches", "methods", "frameworks", "models", "systems", "algorithms", "techniques", "designs",
    "strategies", "mechanisms", "networks", "representations", "tools", "datasets", "benchmarks", "agents",
    # What the paper itself produced or did.
    "experiment", "experiments", "result", "results", "finding", "findings", "observation", "observations",
    "innovation", "innovations", "modification", "modifications", "insight", "insights", "contribution",
    "contributions", "theorem", "theorems", "component", "components", "evaluation", "evaluations",
})  # fmt: skip
# What names the paper itself, before its contribution too ("This paper …"); there "this approach" is the
# field's.
PAPER_NOUNS = frozenset({"paper", "work", "study", "article", "letter", "report"})
# An opening phrase that points back ("In these methods, …", "Despite its ubiquity, its effectiveness …",
# "Unlike such approaches, …"): the note leans on a sentence the reader has not seen. "In this paper, …"
# names the paper itself.
POINTING_OPENER = re.compile(
    r"^[^,]{0,40}?\b(?:this|these|those|its|their|such)\b(?!\s+(?:paper|work|study|article|letter|as)\b)"
    r"[^,]{0,30},\s",  # a comma that ends a phrase, not one inside "1,938"
    re.IGNORECASE,
)
# "LOTUS is, to our knowledge, the first …": the hedge goes ("to the knowledge" is what "our" → "the" would
# make of it); an appositive keeps its comma ("MA-Bench, to the best of our knowledge, the first …").
KNOWLEDGE_ASIDE = re.compile(
    r"(?P<copula>\b(?:is|are|was|were|but|and|yet|that|which)\b)?,\s*to (?:the best of )?our knowledge,\s*",
    re.IGNORECASE,
)
IT_IS_THAT = re.compile(r"^it (?:is|was) (?:\w+ ){1,2}that\s+", re.IGNORECASE)
# "(2) …" and a question are no statement; nor is a notice to the reader ("Warning: This paper contains
# offensive text.").
QUESTION_OR_ITEM = re.compile(
    r"\?$|^\(?(?:\d|[ivx]+|[a-h])\)|^(?:content |trigger )?(?:warning|disclaimer|note to readers?)\s*:",
    re.IGNORECASE,
)
BARE_POINTER = re.compile(
    r"^(?:it|they|this|these|that|those|he|she|its|their|them|the former|the latter|both|such|"
    r"this is|which|here)\b",
    re.IGNORECASE,
)
OUR = re.compile(r"\bour\b")
OUR_START = re.compile(r"^Our\b")
MID_WE = re.compile(r"\b(?:we|We)\b (?=\w)")
US = re.compile(r"\bus\b")
# An aside a note can do without: "(e.g., …)", "(see …)", bracketed lists.
ASIDE = re.compile(
    r"\s*\((?:e\.g\.|i\.e\.|see|cf\.|such as|including|namely)[^()]*\)"
    # "Transfer learning - i.e., fine-tuning a model - can confer …": the aside ends at its closing dash.
    r"|\s+(?:--?|—|–)\s+(?:e\.g\.|i\.e\.),?\s[^—–]*?\s(?:--?|—|–)(?=\s)"
    r"|,?\s*\b(?:e\.g\.|i\.e\.),?\s(?:[^,;.]|\.(?=\d))*(?=[,;.])"
)
LONG_PARENTHESIS = re.compile(r"\s*\([^()]{25,}\)")
# Where a long sentence can end early and still be a statement.
CLAUSE_BREAK = re.compile(
    r",\s+(?:which|while|whereas|thereby|thus|leading to|resulting in|making|allowing|enabling|"
    r"where|as well as|and (?:we|our|it|they|this)|but|yet|although|though|since|because|"
    # A participle that elaborates ("…, demonstrating that …"): a break only where what it drops holds no
    # number (`_shortened`), so a cut never loses a result.
    r"(?P<participle>demonstrating|showing|highlighting|suggesting|indicating|revealing|providing|offering|"
    r"achieving|yielding|outperforming|improving|reducing|establishing|ranking|reaching|surpassing|"
    r"setting|ensuring|paving|underscoring|confirming|bringing|rendering))\b|;\s+|\s+—\s+|:\s+"
)
# Where an editor shortens a long note by a phrase, not a clause: a trailing means-phrase ("…, using
# large-scale simulations", "via an expansion in 1/N", "by modeling each defect as a tuple"), a list of
# examples (", including …", ", in terms of …") or a contrast (" while the baseline …"; not "while
# achieving …", often the second result). Only where what it drops holds no number, so the result stays.
PHRASE_BREAK = re.compile(
    r",?\s+(?:using|via|(?:through|by)(?=\s+\w+ing\b))\s"
    r"|,\s+(?:with|through|based on|including|such as|namely|especially|particularly|in terms of)\s"
    r"|,?\s+(?:while|whereas)\s(?!\w+ing\b)"
)
# A means-phrase after a verb is what the verb needs ("… can be treated by constructing …", "… trained
# using …"): cutting there leaves the verb bare.
BARE_VERB = re.compile(
    r"(?:ed|en|own|one|ade|uilt|un)$|^(?:is|are|be|been|was|were|can|could)$", re.IGNORECASE
)
# A head that is a subordinate clause alone ("While there were numerous use cases for AI …") says nothing.
SUBORDINATE_HEAD = re.compile(
    r"^(?:while|whereas|although|though|since|because|if|when|as|unless)\b", re.IGNORECASE
)
# A long opening phrase that says how or despite what ("By jointly integrating masks as inputs and
# predictions, MaskWAM unlocks …", "While higher order corrections involve …, the leading order scaling
# depends …"): the statement stands without it when the phrase holds no number. A phrase of condition or
# scope ("For a checkerboard CDW, …", "In multitask settings, …") is part of the claim and stays.
LEADING_PHRASE = re.compile(
    r"^(?:by|using|via|through|while|although|though|whereas|despite|in spite of|building on|"
    r"(?!(?:during|according|including|regarding|concerning|following|considering)\b)[a-z]+ing(?! of\b))"
    r"\s[^,;:\d]{3,140}?,\s+(?!(?:and|or|but|which|where|while|then|as|such|including|namely|it|they|this|these|its|their)\b)"
    r"(?=(?-i:[A-Z])|(?:the|a|an)\s)",  # a subject follows: "Analyzing two estimators, sequence probability …" has none
    re.IGNORECASE,
)
# A cut keeps most of the note: "The authors draw a rich complexity landscape." is no longer the finding
# the sentence stated. A note past the editor's longest by far may lose more ("Study of the low temperature
# properties of a helium-4 fluid confined in nanopores" of 179 characters), never below a note's length.
KEPT_SHARE = 0.55
KEPT_CHARS = 75
FAR_TOO_LONG_CHARS = 160
# "We identify the tokens that distinguish stories and measure the similarity of what remains": verbs
# that follow a first verb under the same "we" and take no nominal of their own.
SECOND_VERBS = frozenset({
    "measure", "measures", "quantify", "quantifies", "assess", "assesses", "validate", "validates",
    "implement", "implements", "outline", "outlines", "discover", "discovers",
})  # fmt: skip
# "Design of a loss and formulate training as …": the second verb's clause has lost its subject. It ends
# where the sentence or the clause does (a full stop, ";", ":"), not at the point of a number ("1.35×"):
# "We evaluate X on 96 NPUs and benchmark it against baselines: throughput improves by 1.35× …" keeps
# what follows the colon.
COORDINATED_VERB = re.compile(
    r",?\s+and\s+(?:then\s+|\w+ly\s+)?(?:"
    + "|".join(sorted({*NOMINAL, *CLAIMS, *LIGHT_VERBS, *SECOND_VERBS}))
    # "… on synthetic and benchmark-derived instances": an adjective, not a second verb.
    + r")\b(?!-)(?:[^.;:]|\.(?=\d))*"
)
# "We revisit this area, and propose X": the first verb's object points at a sentence the reader never
# saw, and the second verb says what the paper does; the note is made of the second ("Introduction of X").
POINTER_OBJECT_THEN_VERB = re.compile(
    r"^(?P<lead>we\s+)\w+\s+(?:this|these|that|those|it|them)\b[^,;.:]{0,40}?,?\s+and\s+(?:then\s+)?"
    r"(?=(?:" + "|".join(sorted({*NOMINAL, *CLAIMS, *LIGHT_VERBS})) + r")\b)",
    re.IGNORECASE,
)
# "We address this challenge for traffic forecasting and propose an approach that …": the second verb is
# the contribution, which cutting the coordinated verb would lose; the note is made of it.
CONTRIBUTION_SECOND = re.compile(
    r"^(?P<lead>we\s+)(?!(?:propose|introduce|present)\b)\w+\s[^;.:]{0,120}?,?\s+and\s+(?:then\s+)?"
    r"(?=(?:propose|introduce|present)\s+(?:an?\s|(?-i:[A-Z])))",  # a new thing, not "present the results"
    re.IGNORECASE,
)
# "We calculate critical exponents and find that the hopping reduces the critical dimension by one": the
# finding is the note ("Finding that the hopping …"), not the first verb's clause.
CLAIM_SECOND = re.compile(
    r"^(?P<lead>we\s+)(?!(?:" + "|".join(sorted(CLAIMS)) + r")\b)\w+\s[^;.:]{0,120}?,?\s+and\s+(?:then\s+)?"
    r"(?=(?:find|show|prove|demonstrate|observe|reveal|confirm|verify)\s+that\b)",
    re.IGNORECASE,
)
# "We design and evaluate X": one object for two verbs, "Design and evaluation of X".
SHARED_OBJECT = re.compile(r"^and\s+(\w+)\s+")
# An infinitive just before "and" ("Use of a verifier to estimate the rate and evaluate each draft"): the
# verb after "and" is the infinitive's second. Further back ("Use of taxonomies to build a set of operators
# relevant to RL and use a heuristic …") it is the sentence's second verb.
OPEN_INFINITIVE = re.compile(
    r"\bto\s+(?:"
    + "|".join(sorted({*NOMINAL, *CLAIMS, *LIGHT_VERBS}))
    + r"|\w+(?:ize|ise|ate|ify))\b[^,;:.]{0,40}$"
)  # "to attack risk" is no infinitive
# "TreeSearch reads all trees, identifies active goals, and uses …": a list of verbs with their subject.
LISTED_VERB = re.compile(r",\s+\w+s\s[^,]*$")
# "Introduction of.) could influence them", "Introduction of:V →1,2": what a cut left of a note. "The
# dataset is available at.", "The benchmark is located at:.": a sentence whose end its source dropped
# (a link taken out) ends on a preposition.
CUT_NOMINAL = re.compile(r"\bof[.:)]|\b(?:at|from|via|of|into|under|through):?\.$", re.IGNORECASE)
# "We prove in a synthetic setting that …" → "Proof of in a …", "We propose to enhance …" → "Introduction
# of to enhance …": the verb's object was no noun; such a note is not used.
MALFORMED_NOMINAL = re.compile(
    r"^[A-Z]\w+ of (?:to|of|in|on|at|for|from|by|with|about|into|that|whether|how|and|or|\w+ly|"
    # "We evaluate across two domains", "We build upon a metric": no object either.
    r"across|upon|onto|over|under|against|between|among|within|through|via|using|as|beyond|toward|"
    r"towards|without|after|before|during)\b"
)
# "To pull the test features closer to the source domain." : a purpose with no statement (what it was the
# purpose of was in the sentence before).
PURPOSE_FRAGMENT = re.compile(r"^to\s+\w+[^,;:]*\.?$", re.IGNORECASE)
# An adverbial between a claim verb and its "that": "by construction", "in a synthetic setting", "empirically".
CLAIM_ASIDE = re.compile(
    r"((?:by|in|on|for|under|with|through|via|across|both)\s[^,;:.]{1,50}?|\w+ly),?\s+that\s+", re.IGNORECASE
)
PHRASE_OPENING = re.compile(
    r"^(?:on|in|for|with|by|at|from|under|over|through|across|via|among|during|after|before|unlike|"
    r"compared to|beyond|despite|given|as)\s",
    re.IGNORECASE,
)
# A note that announces what comes next ("… one of the following two scenarios happens") says nothing
# read alone.
ANNOUNCES_NEXT = re.compile(r"\b(?:the following|as follows)\b", re.IGNORECASE)
# "We (i) propose …", "We: (1) identify …": the enumeration goes, the statement stays.
ENUMERATED_LEAD = re.compile(r"^(we|this (?:paper|work))\s*:?\s*\((?:\d+|[ivx]+|[a-h])\)\s*", re.IGNORECASE)
# "2. The agent is …": a numbered item that is a whole sentence keeps the sentence.
NUMBERED_ITEM = re.compile(r"^\(?\d{1,2}[.)]\s+(?=[A-Z])")
LEADING_DETERMINER = re.compile(r"^(?:a|an|the|our)\s+", re.IGNORECASE)
IT_VERB = re.compile(r"^it\s+(?!is\b|was\b)(?=[a-z])", re.IGNORECASE)
LEADING_ARTICLE = re.compile(r"^(?:a|an|the)\s+", re.IGNORECASE)
# A clause that ends on one of these words is unfinished: cut at "hurdles through: (1) …" or "a setup
# involving: (i) …", what is left is no statement.
UNFINISHED_END = DANGLING_WORDS | {
    "through", "involving", "including", "namely", "like", "such", "following", "across", "within",
    "without", "toward", "towards", "about", "against", "during", "upon", "using",
    # A verb whose object is what follows ("the benchmark comprises: (i) …").
    "comprises", "comprise", "includes", "include", "contains", "contain", "covers", "involves",
    "consists", "features", "incorporates", "encompasses", "spans", "is", "are",
}  # fmt: skip
# A colon after a thing only named ("two core challenges:", "recommend a simple strategy:", "reveals a
# trade-off:"): what the note would say is after the colon. A claim before a colon ("can be described by a
# kernel:") is a statement, and a number in the thing ("a 10% gain") makes one.
ANNOUNCED_THING = re.compile(
    r"(?:\b(?:two|three|four|five|several|multiple|various|these|following)"
    r"|\b(?:propose|proposes|present|presents|introduce|introduces|identify|identifies|recommend|"
    r"recommends|document|documents|reveal|reveals|uncover|uncovers|highlight|highlights|face|faces|"
    r"has|have|include|includes|explore|explores|offer|offers|adopt|adopts|introduction of|"
    r"identification of|presentation of|exploration of)\s+(?:a|an|the following))"
    r"\s+(?:[^\s\d]+\s+){0,3}[^\s\d]+$",
    re.IGNORECASE,
)
# An enumeration begun ("(1) …", "(i) …", "1) …") or a "not only" whose "but also" comes later.
OPEN_ENUMERATION = re.compile(r"\((?:1|i|a)\)|(?:^|\s)1\)|\bnot only\b", re.IGNORECASE)
# An aside between dashes or in parentheses: a clause break inside one is not where a statement ends.
ASIDE_DASHES = (" -- ", " — ", " – ")
TARGET_CHARS = 120
# The editor's longest note is 141 characters: one that long keeps its means-phrase, as the editor's own
# notes do ("… that leverages data diversity through distinct data splits"); a longer one loses it, and a
# cut keeps it within 140 where it can.
LONGEST_CHARS = 140
PHRASE_CUT_CHARS = LONGEST_CHARS + 1
MAX_CHARS = 200
MIN_WORDS = 5


NAMED_TITLE = re.compile(r"^([A-Z][\w+\-.]*(?:\s[\w+\-.]+){0,2}):\s")


def name_in_title(title: str) -> str | None:
    """The method's name a title starts with ("PolyKV: A Shared …" -> "PolyKV"), if it has one."""
    match = NAMED_TITLE.match(title.strip())
    return match.group(1) if match else None


def as_note(sentence: str, name: str | None, *, strict: bool = True, context: bool = False) -> str | None:
    """The sentence as a self-contained note, or None if it cannot stand alone. Not `strict`: the note a
    paper with fewer than three strict ones may fall back on, made without the rules that only drop
    (a pointing opener, "This X" of no thing of the paper's, the cuts refused at an announcing colon or
    inside an enumeration). `context`: the sentence comes before the paper's contribution, where "this
    paradigm" or "It requires …" stand for the field's thing, not the paper's."""
    own = PAPER_NOUNS if context else METHOD_NOUNS
    if context:
        name = None
    text = NUMBERED_ITEM.sub("", sentence.strip())
    if text.endswith("?"):  # judged before any cut can take the question mark away
        return None
    text = KNOWLEDGE_ASIDE.sub(lambda match: f"{match['copula']} " if match["copula"] else ", ", text)
    for _ in range(3):
        trimmed = CONNECTIVE_OPENER.sub("", text, count=1)
        trimmed = CONTEXT_CLAUSE.sub("", trimmed, count=1)
        if trimmed == text:
            break
        text = trimmed
    text = ENUMERATED_LEAD.sub(r"\1 ", text)
    text = POINTER_OBJECT_THEN_VERB.sub(r"\g<lead>", text, count=1)
    # The finding's or the contribution's own clause when it makes a note; else the first verb's.
    for second in (CLAIM_SECOND, CONTRIBUTION_SECOND):
        clause = second.sub(r"\g<lead>", text, count=1)
        if clause != text:
            note = _note(clause, name, strict, own)
            if note is not None:
                return note
    return _note(text, name, strict, own)


def _note(text: str, name: str | None, strict: bool, own: frozenset[str] = METHOD_NOUNS) -> str | None:
    stated = text
    text = _nominal(text)
    if MALFORMED_NOMINAL.match(text):
        return None
    if strict and (
        POINTER_OBJECT.search(text) is not None
        or any(
            match.group(1) is None or match.group(1).lower() not in own
            for match in POINTER_INSIDE.finditer(text[1:])  # the subject's own pointer is judged below
        )
    ):
        return None
    # Where the sentence keeps its subject, the second verb's clause is dropped only if it holds no number:
    # "Each Gaussian is defined by 5 + C parameters and achieves up to 10x faster rendering" keeps its result.
    text = _without_coordinated_verb(text, keep_numbers=text == stated)
    standalone = _self_contained(text, name, strict, own)
    if standalone is None:
        return None
    third_person = MID_WE.sub("the authors ", OUR.sub("the", OUR_START.sub("The", standalone)))
    # "The analysis allowed us to identify …": the authors, said in the third person.
    third_person = US.sub("the authors", third_person)
    note = _shortened(third_person, strict)
    if note is None or len(note.split()) < MIN_WORDS or len(note) > MAX_CHARS or ANNOUNCES_NEXT.search(note):
        return None
    if strict and _points_elsewhere(note, name, own):
        return None
    if CUT_NOMINAL.search(note):
        return None
    if PURPOSE_FRAGMENT.match(note):  # as written, or what a cut left ("To pull the features closer …, we")
        return None
    return _capitalized(note)


def _points_elsewhere(note: str, name: str | None, own_nouns: frozenset[str] = METHOD_NOUNS) -> bool:
    """Whether the note, as it will be shown, leans on a sentence the reader has not seen: "this X" of no
    thing of the paper's, an "its"/"their" before anything it could stand for, "The same …"."""
    if POINTING_DETERMINER.match(note):
        return True
    own = own_nouns | PAPER_NOUNS | {(name or "").lower()}
    for match in POINTER_THIS.finditer(note):
        # "this hybrid optimization strategy": the thing is named within three words, as for a subject;
        # "this domain is evaluation" names none ("evaluation" is another phrase's).
        named = itertools.takewhile(lambda word: word not in FUNCTION_WORDS, match.group(1).lower().split())
        if not own & set(named):
            return True
    for match in POSSESSIVE.finditer(note):
        before = NOTE_LEAD.sub("", note[: match.start()])
        if not [word for word in re.findall(r"[\w-]+", before.lower()) if word not in FUNCTION_WORDS]:
            return True
    return False


def _without_coordinated_verb(text: str, *, keep_numbers: bool = False) -> str:
    for match in COORDINATED_VERB.finditer(text):
        if keep_numbers and MEASURED.search(match.group(0)):
            continue
        head = text[: match.start()]
        in_list = match.group(0).startswith(",") and LISTED_VERB.search(head) is not None
        shared_object = " " not in head  # "Introduction and study of X"
        if not (in_list or shared_object) and OPEN_INFINITIVE.search(head) is None:
            return head + text[match.end() :]
    return text


def _nominal(text: str) -> str:
    match = FIRST_PERSON_LEAD.match(text)
    if match is None:
        return text
    verb, rest = match.group(1).lower(), text[match.end() :]
    if verb in CLAIMS:
        if rest.lower().startswith("that "):
            return f"{CLAIMS[verb]} that {rest[5:]}"
        # "We prove by construction that X" → "Proof, by construction, that X".
        aside = CLAIM_ASIDE.match(rest)
        if aside is not None:
            # An adverb alone ("We show empirically that X") says little: "Evidence that X".
            words = aside.group(1)
            between = "" if " " not in words else f", {words},"
            return f"{CLAIMS[verb]}{between} that {rest[aside.end() :]}"
        return f"{CLAIMS[verb]} of {rest}"
    shared = SHARED_OBJECT.match(rest)
    if verb in NOMINAL and shared is not None and shared.group(1).lower() in NOMINAL:
        first, second = NOMINAL[verb], NOMINAL[shared.group(1).lower()]
        if first.endswith(" of") and second.endswith(" of") and first != second:
            # "We design and evaluate X" -> "Design and evaluation of X".
            rest = LEADING_DETERMINER.sub(_lowered_determiner, rest[shared.end() :])
            return f"{first[:-3]} and {second[0].lower()}{second[1:]} {rest}"
    if verb in NOMINAL:
        # "We propose a method" -> "Introduction of a method"; "our method" -> "the method".
        return f"{NOMINAL[verb]} {LEADING_DETERMINER.sub(_lowered_determiner, rest)}"
    if verb in USE_VERBS:
        # "We use a tiny LLM as the judge" -> "Use of a tiny LLM as the judge", not a bare noun phrase.
        return f"Use of {LEADING_DETERMINER.sub(_lowered_determiner, rest)}"
    if verb in LIGHT_VERBS:
        return rest
    # "We achieve", "We outperform": a claim whose subject is the paper.
    return text


def _lowered_determiner(match: re.Match[str]) -> str:
    word = match.group(0).strip().lower()
    return "the " if word in ("the", "our") else word + " "


def _self_contained(
    text: str, name: str | None, strict: bool = True, own: frozenset[str] = METHOD_NOUNS
) -> str | None:
    if QUESTION_OR_ITEM.search(text) or (strict and POINTING_OPENER.match(text)):
        return None
    text = IT_IS_THAT.sub("", text)
    pointing = POINTING_SUBJECT.match(text)
    if pointing is not None:
        plural = pointing.group(0).lower().startswith(("these", "those"))
        if (PLURAL_POINTER_VERB if plural else SINGULAR_POINTER_VERB).match(text[pointing.end() :]):
            return None
        # "This approach reduces …" -> "The approach reduces …": the paper's own approach ("Such a
        # representation enables …" -> "The representation enables …"). Only a thing of the paper's is
        # one the reader can tell without the sentence before: "This synergy has sparked …" or "These
        # scores mark a 3.5× improvement" points at what that sentence said.
        rest = LEADING_ARTICLE.sub("", text[pointing.end() :], count=1)
        head = [word.lower().strip(",;:") for word in rest.split()[:3]]
        if strict and not any(word in own or (name and word == name.lower()) for word in head):
            return None
        return "The " + rest
    if BARE_POINTER.match(text):
        named = with_method_name(text, name)
        return named if named != text else None
    return text


def with_method_name(sentence: str, name: str | None) -> str:
    """A sentence "It achieves …" is said of the paper's method: its name, when the title gives one
    ("ElasWave achieves …"); any other sentence as it is."""
    if name and IT_VERB.match(sentence):
        return name + sentence[sentence.index(" ") :]
    return sentence


def _shortened(text: str, strict: bool = True) -> str | None:
    text = ASIDE.sub("", text)
    if len(text) > TARGET_CHARS:
        text = LONG_PARENTHESIS.sub("", text)
    text = re.sub(r"\s+([,;:]|\.(?!\d))", r"\1", text)  # "p < .001" keeps its space
    if len(text) <= TARGET_CHARS:
        return text
    # The main clause alone, if it is a statement of its own: the longest one that fits.
    heads = _clause_heads(text, strict)
    # Else the note without a phrase an editor would drop, twice at most ("Across four tools, X achieves Y
    # using Z" → "X achieves Y").
    trimmed = _phrase_cuts(text, strict) if len(text) > PHRASE_CUT_CHARS else set()
    trimmed |= {shorter for cut in trimmed for shorter in _phrase_cuts(cut, strict)}
    fitting = [head + "." for head in heads if len(head) <= TARGET_CHARS]
    fitting += [cut for cut in trimmed if len(cut) <= TARGET_CHARS]
    if fitting:
        return max(fitting, key=len)
    # Else the longest that is no longer than the editor's longest note.
    within = [head + "." for head in heads if len(head) < LONGEST_CHARS] + [
        cut for cut in trimmed if len(cut) <= LONGEST_CHARS
    ]
    if within and len(text) > LONGEST_CHARS:
        return max(within, key=len)
    if trimmed:
        return min(trimmed, key=len)
    if len(text) <= MAX_CHARS:
        return text
    shorter = [head for head in heads if len(head) <= MAX_CHARS]
    return min(shorter, key=len) + "." if shorter else None


def _clause_heads(text: str, strict: bool) -> list[str]:
    heads = []
    for match in CLAUSE_BREAK.finditer(text):
        before = text[: match.start()]
        head = before.rstrip(" ,;:")
        is_statement = len(before.split()) >= MIN_WORDS + 2 and not is_inside_aside(before, strict)
        # "The authors recommend a simple deployment strategy: …" names what the colon then says.
        announces = strict and match.group(0).startswith(":") and ANNOUNCED_THING.search(head) is not None
        # "On the UCI benchmark collections of small tasks, where …, Hopfield layers yield …": a head that
        # is only the opening phrase has no verb.
        if "," not in head and PHRASE_OPENING.match(head):
            continue
        if match.group("participle") and any(character.isdigit() for character in text[match.end() :]):
            continue
        if is_statement and not announces and head.rsplit(" ", 1)[-1].lower() not in UNFINISHED_END:
            heads.append(head)
    return heads


def _phrase_cuts(text: str, strict: bool) -> set[str]:
    """The note without a trailing phrase or a long opening phrase an editor would drop, each a statement
    still: a full stop at the end, nothing dropped that holds a number."""
    cuts = set()
    for match in PHRASE_BREAK.finditer(text):
        # '… "schools of thought," while …' ends on its quote: '… "schools of thought".'
        head = re.sub(r",([\"”’)]?)$", r"\1", text[: match.start()].rstrip(" ;:"))
        last = head.rsplit(" ", 1)[-1]
        if (
            any(character.isdigit() for character in text[match.start() :])
            or len(head.split()) < MIN_WORDS + 2
            or is_inside_aside(head, strict)
            or last.lower() in UNFINISHED_END
            or BARE_VERB.search(last)
            or ("," not in head and PHRASE_OPENING.match(head))
            or SUBORDINATE_HEAD.match(head)
        ):
            continue
        cuts.add(head + ".")
    opening = LEADING_PHRASE.match(text)
    if opening is not None:
        rest = text[opening.end() :]
        if (
            len(rest.split()) >= MIN_WORDS + 2
            and not is_inside_aside(text[: opening.end()], strict)
            and not is_dangling(rest)
        ):
            cuts.add(rest[0].upper() + rest[1:])
    share = KEPT_SHARE if len(text) <= FAR_TOO_LONG_CHARS else 0.0
    return {cut for cut in cuts if max(share * len(text), KEPT_CHARS) <= len(cut) < len(text)}


def is_inside_aside(head: str, strict: bool = True) -> bool:
    """Whether `head` ends inside a parenthesis or a dash-bounded aside it opened ("negative flips --
    instances where a prior model was correct, but …"), inside an enumeration ("two innovations: (1)
    neuron-level processing") or inside a "not only …" still waiting for its "but also"."""
    return (
        head.count("(") > head.count(")")
        or any(head.count(dash) % 2 for dash in ASIDE_DASHES)
        or (strict and OPEN_ENUMERATION.search(head) is not None)
    )


def _capitalized(text: str) -> str:
    text = text.strip()
    if not text.endswith((".", "!", "?")):
        text = text.rstrip(" ,;:") + "."
    # "mPLUG-2 introduces …": a name with a capital inside keeps its own first letter.
    first = text.split(" ", 1)[0]
    if any(character.isupper() for character in first[1:]):
        return text
    return text[0].upper() + text[1:]
