"""Titles and abstracts as readers should see them: arXiv's LaTeX turned into plain Unicode text.

arXiv titles and abstracts are written in LaTeX (`$\\mathcal{O}(n)$`, `Norouzi{-}Fard`, `50\\%`,
`et al.~\\cite{x}`). pylatexenc parses them (tolerantly: unbalanced braces and unclosed math are common)
and renders text; the few conventions of abstracts it does not know are configured here. A last sweep
removes whatever markup survives, so no `{ } $ \\` ever reaches a summary, an email or a page.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from pylatexenc import latexwalker, macrospec
from pylatexenc.latex2text import (
    LatexNodes2Text,
    MacroTextSpec,
    SpecialsTextSpec,
    get_default_latex_context_db,
)

from newsletter.plaintext.characters import without_hidden
from newsletter.plaintext.scripts import Script, scripted

# Some sources strip the backslashes and keep the rest ("2.57times", "O(nfrac{L{mu}}log(1{epsilon}))",
# "1{2} -epsilon"). Command names that are not English words, written where English never puts them
# (glued to a number or a one-letter symbol, or beside a brace, ^ or _), get their backslash back.
MATH_NAMES = (
    "times|cdot|cdots|ldots|dots|frac|sqrt|epsilon|varepsilon|delta|lambda|mu|sigma|theta|Theta|Omega|omega|"
    "alpha|beta|gamma|eta|tau|rho|phi|psi|pi|ell|infty|log|leq|geq|le|ge|top|ast|approx|sim|tilde|"
    "mathcal|mathbb|mathbf|left|right|big|Big"
)
GLUED_OPERATOR_PATTERN = r"(?<![A-Za-z\\])(\d+(?:\.\d+)?|[A-Za-z])(times|cdot)\b"
# LaTeX eats the space after a command word; in an abstract "2.57\\times faster" means "2.57× faster".
SYMBOL_BEFORE_SPACE = re.compile(
    r"(\\(?:times|cdot|pm|mp|approx|sim|simeq|leq|geq|le|ge|neq|to|rightarrow|infty|ldots|cdots|dots|ast|top))"
    r"(?=\s)"
)
TAKE_ARGUMENTS = frozenset({"frac", "sqrt", "tilde", "mathcal", "mathbb", "mathbf"})
# Wide accents over a stripped argument ("widetilde O(n)"): the word goes, the symbol stays ("O(n)"), as
# the converter prints "$\\widetilde{O}(n)$".
DROPPED_ACCENTS = frozenset({"widetilde", "widehat"})
# The patterns below start with a character class or a literal: Python's engine then skips to the
# places they can start. A pattern that starts with a look-behind (or an alternation of them) is tried
# at every character, 5-10 times slower on an abstract.
# A name after a brace, ^, _, a digit or an operator; a "-" before it is checked in code (a non-letter
# must precede the "-", which a look-behind here would cost the speed above).
NAME_IN_MATH_CONTEXT = re.compile(rf"[{{}}^_\d+*/=-](?:{MATH_NAMES})(?![A-Za-z])")
# A name right before a subscript, a superscript or a brace ("ell_1", "epsilon^{-1}", "theta^{(t)}"):
# English never writes a word there. Not "top" ("top_k" is an ML word).
NAMES_BEFORE_SCRIPT = frozenset(MATH_NAMES.split("|")) - {"top"}
# Once a text is known to be stripped: sizing and limits commands glued to the symbol before them and to
# the bracket after ("Oleft(", "Tright)", "Obig(", "minlimits_"; not "cleft (x)").
# The character before is checked in code (`_sizing`), for the speed noted above.
GLUED_SIZING = re.compile(r"(?:left|big|Big)(?=[(\[|])|right(?=[)\]|])|limits(?=[_^])")
# Names never English, looked for even in a text with no other sign of stripping ("Here Tgeq 0",
# "widetilde O(n)"); the rest of NEVER_ENGLISH_WORDS only in a text with a brace, ^, _ or a hint.
GLUED_NAMES = ("geq", "leq", "widetilde", "widehat")
NEVER_ENGLISH_WORDS = (
    "ldots",
    "cdots",
    "varepsilon",
    "mathcal",
    "mathbb",
    "mathbf",
    "frac",
    "infty",
    *GLUED_NAMES,
)
# Not after a backslash (checked in code, as above).
NEVER_ENGLISH_NAME = re.compile(rf"(?:{'|'.join(NEVER_ENGLISH_WORDS)})(?![A-Za-z])")
GLUED_OPERATOR = re.compile(GLUED_OPERATOR_PATTERN)
# "1{2}" is what is left of a fraction once "\frac" and its first braces are gone ("10{,}000" is not).
STRIPPED_FRACTION = re.compile(r"(?<![\w^_{\\])(\d+)\{(?![,.])")
DIGIT_BRACE = re.compile(r"\d\{")

# Stripped command names are looked for only where a brace, ^, _, one of these names, or "times"/"cdot"
# glued to a number is.
# (A Greek letter glued to a digit, "2pi", is left as it is: checking for every name costs too much.)
STRIPPED_HINTS = ("epsilon", "frac", "dots", "infty", "mathcal", "mathbb", "sqrt")
# The pieces of an abstract that are LaTeX: math, a command with its arguments, a brace group (with the
# `_` or `^` before it, a script: "theta^{(t)}" of a source that dropped the dollars). Math
# opened by `$$`, `\(` or `\[` is matched by its opener only and `islands` looks for the closer: a pattern
# such as `\\\(.+?\\\)` scans to the end of the text from every opener without a closer, and an
# abstract of 100,000 of them took minutes.
ISLAND = re.compile(
    r"(?P<opener>\$\$|\\\(|\\\[)|\$[^$]+\$"
    r"|\\[A-Za-z]+\*?(?:\s*\[[^\]]{0,200}\])?(?:\s*\{(?:[^{}]|\{[^{}]*\})*\})*"
    r"|\\[^A-Za-z\s]"
    r"|[_^]?\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}",
    re.DOTALL,
)
CLOSERS = {"$$": "$$", "\\(": "\\)", "\\[": "\\]"}
# Real abstracts hold a few dozen pieces of markup at most (the bundled ones 8); each piece costs up to a
# fraction of a millisecond to parse. Past this many the rest of a text is stripped of markup instead, so
# an entry of 200,000 characters of distinct pieces cannot hold a fetch for seconds.
MAX_PARSED_ISLANDS = 200
# A comment sign in an abstract is a percent sign ("50% faster"): escaped before parsing.
UNESCAPED_PERCENT = re.compile(r"(?<!\\)%")
# TeX's dashes and single quotes, typed in plain text: an em dash, a spaced en dash, a range, `quoted'.
EM_DASH = re.compile(r"(?<![-!])---(?!-)")
SPACED_DASH = re.compile(r"(?<=\S) -- (?=\S)")
NUMBER_RANGE = re.compile(r"(?<=\d)--(?=\d)")
SINGLE_QUOTED = re.compile(r"(?<![`\w])`([^`'\n]{1,80}?)'(?!')")
# `~` between two words is a non-breaking space ("et al.~\cite{x}", "Fig.~3"); a free-standing one
# ("~10% faster") means "about" and is kept.
TIE = re.compile(r"(?<=\S)~(?=\S)")
FREE_TILDE = re.compile(r"(?<!\\)~")
LEFTOVER_COMMAND = re.compile(r"\\[A-Za-z]+\*?|\\.")
LEFTOVER_MARKUP = re.compile(r"[{}$\\]")
# Applied to text whose whitespace is already folded: a literal space scans faster than \s+.
# Not before a number's point: "p < .001".
SPACE_BEFORE_PUNCTUATION = re.compile(r" ([,;:!?)\]]|\.(?!\d))")
SPACE_AFTER_OPENING = re.compile(r"([(\[])\s+")
EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
# "Fig.~\ref{x}." loses its reference and leaves "Fig.." behind.
DOUBLED_PERIOD = re.compile(r"(?<!\.)\.\.(?!\.)")
SPACES = re.compile(r"\s+")
# What LaTeX debris looks like once printed: markup characters, or a command name glued to a number or
# left behind on its own ("2.57times", "1/2 -epsilon", "mathcal O", "Tgeq 0", "ell_1", "Oleft(").
DEBRIS = re.compile(
    r"[{}$\\]|\d(?:times|cdot|pm|approx|sim|leq|geq|epsilon)\b|[\d)] ?-epsilon\b|"
    r"(?<![A-Za-z])(?:varepsilon|mathcal|mathbb|mathbf|mathrm|emph|textbf|textit|frac|citep|citet|eqref|"
    r"ldots|cdots|leq|geq|infty|widetilde|widehat)\b|[A-Za-z](?:geq|leq)\b|(?<![A-Za-z\\])ell_|"
    r"[A-Za-z](?:left|big)\(|[A-Za-z]limits_|"
    # Glued inside a word of a stripped formula ("midmathbf"): no English word holds these.
    r"(?:varepsilon|mathcal|mathbb|mathbf|mathrm|textbf|textit|widetilde|widehat|ldots|cdots)"
)

# Citations, cross-references and labels say nothing to a reader of the abstract alone.
DROPPED_MACROS = ("cite", "citep", "citet", "citealp", "ref", "eqref", "autoref", "cref", "Cref", "label",
                  "footnote", "footnotemark", "vspace", "hspace", "nocite")  # fmt: skip
# Font and style switches keep their argument: `\mathcal{O}(n)` is read "O(n)", `\emph{x}` "x".
KEPT_ARGUMENT_MACROS = ("mathcal", "mathscr", "mathfrak", "mathsf", "mathtt", "mathit", "mathbf",
                        "mathrm", "boldsymbol", "bm", "operatorname", "textsc", "textsf", "texttt",
                        "textnormal", "textup", "underline", "uline", "mbox", "text")  # fmt: skip
SYMBOLS = {
    # The Greek letter readers know, not the lunate ϵ pylatexenc prints.
    "epsilon": "ε",
    "varepsilon": "ε",
    "|": "‖",
    "Vert": "‖",
    "lVert": "‖",
    "rVert": "‖",
    "textasciitilde": "~",
}

# siunitx writes quantities as `\SI{74}{\percent}`, `\qty{3.2}{\milli\second}`, `\si{\giga\byte}`: its
# unit macros are the symbols printed. A percent sign or a degree follows its number at once, any other unit
# after a space ("74%", "3.2 ms").
SI_UNITS = {
    "percent": "%", "degree": "°", "celsius": "°C", "per": "/", "cubic": "", "square": "",
    "yotta": "Y", "zetta": "Z", "exa": "E", "peta": "P", "tera": "T", "giga": "G", "mega": "M", "kilo": "k",
    "hecto": "h", "deci": "d", "centi": "c", "milli": "m", "micro": "µ", "nano": "n", "pico": "p",
    "femto": "f", "second": "s", "minute": "min", "hour": "h", "day": "d", "metre": "m", "meter": "m",
    "gram": "g", "kilogram": "kg", "hertz": "Hz", "watt": "W", "joule": "J", "volt": "V", "ampere": "A",
    "kelvin": "K", "newton": "N", "pascal": "Pa", "ohm": "Ω", "byte": "B", "bit": "bit", "decibel": "dB",
    "litre": "L", "liter": "L", "mole": "mol", "radian": "rad", "electronvolt": "eV", "flop": "FLOP",
}  # fmt: skip
SI_MACROS = {"SI": "[{[{", "qty": "[{{", "si": "[{", "unit": "[{", "num": "[{", "SIrange": "[{{{",
             "qtyrange": "[{{{", "numrange": "[{{"}  # fmt: skip
UNIT_AT_ONCE = ("%", "°")

logger = logging.getLogger(__name__)


def _fraction(node: Any, l2tobj: LatexNodes2Text) -> str:
    # pylatexenc's own "%s/%s" fails on a \frac missing an argument (cut-short or malformed input).
    arguments = [argument for argument in (node.nodeargd.argnlist if node.nodeargd else []) if argument]
    parts = [l2tobj.nodelist_to_text([argument]).strip() for argument in arguments]
    parts = [f"({part})" if len(part) > 1 and not part.isalnum() else part for part in parts]
    return "/".join(parts)


def _quantity(node: Any, l2tobj: LatexNodes2Text) -> str:
    # The arguments in braces, options and the pre-unit left out: numbers, then the unit (if the macro
    # takes one). `\SIrange{1}{5}{\percent}` reads "1–5%".
    spec = SI_MACROS[node.macroname]
    arguments = node.nodeargd.argnlist if node.nodeargd else []
    texts = [
        "" if argument is None else str(l2tobj.nodelist_to_text([argument])).strip()
        for kind, argument in zip(spec, arguments, strict=False)
        if kind == "{"
    ]
    has_unit = node.macroname not in ("num", "numrange")
    numbers, unit = (texts[:-1], texts[-1]) if has_unit and texts else (texts, "")
    number = "–".join(text for text in numbers if text)
    if not number or not unit:
        return number or unit
    return number + ("" if unit.startswith(UNIT_AT_ONCE) else " ") + unit


def _nothing(node: Any) -> str:
    return ""


def _script(node: Any, l2tobj: LatexNodes2Text) -> str:
    # In math, and before braces anywhere ("x^{2}" of a text whose dollars a source dropped), a script is
    # printed as one; a "_" or "^" of plain text ("top_k") stays as it is.
    mark: Script = node.specials_chars
    argument = node.nodeargd.argnlist[0] if node.nodeargd and node.nodeargd.argnlist else None
    if argument is None or _takes_arguments(argument):
        # "a_\\mathrm{max}": the script's one token is a command whose argument comes after it, which
        # renders on its own ("a_max").
        return mark
    text = str(l2tobj.nodelist_to_text([argument]))
    is_group = argument.isNodeType(latexwalker.LatexGroupNode)
    if node.parsing_state.in_math_mode or is_group:
        return scripted(mark, text)
    return mark + text


def _takes_arguments(node: Any) -> bool:
    if not node.isNodeType(latexwalker.LatexMacroNode):
        return False
    spec = WALKER_CONTEXT.get_macro_spec(node.macroname)
    return spec is not None and "{" in getattr(spec.args_parser, "argspec", "")


def _walker_context() -> Any:
    context = latexwalker.get_default_latex_context_db()
    context.add_context_category(
        "abstracts",
        prepend=True,
        macros=[
            *(macrospec.MacroSpec(name, "*[[{") for name in DROPPED_MACROS),
            # Some are unknown to pylatexenc ("\\operatorname{dim}"): their argument is read as theirs.
            *(macrospec.MacroSpec(name, "{") for name in KEPT_ARGUMENT_MACROS),
            macrospec.MacroSpec("operatorname", "*{"),
            *(macrospec.MacroSpec(name, arguments) for name, arguments in SI_MACROS.items()),
            macrospec.MacroSpec("url", "{"),
            macrospec.MacroSpec("href", "{{"),
        ],
        specials=[
            macrospec.SpecialsSpec(mark, args_parser=macrospec.MacroStandardArgsParser("{")) for mark in "^_"
        ],
    )
    return context


def _text_context() -> Any:
    context = get_default_latex_context_db()
    fraction: Callable[[Any, LatexNodes2Text], str] = _fraction
    script: Callable[[Any, LatexNodes2Text], str] = _script
    quantity: Callable[[Any, LatexNodes2Text], str] = _quantity
    context.add_context_category(
        "abstracts",
        prepend=True,
        macros=[
            *(MacroTextSpec(name, simplify_repl=_nothing) for name in DROPPED_MACROS),
            *(MacroTextSpec(name, simplify_repl="%(1)s") for name in KEPT_ARGUMENT_MACROS),
            *(MacroTextSpec(name, simplify_repl=symbol) for name, symbol in SYMBOLS.items()),
            MacroTextSpec("operatorname", simplify_repl="%(2)s"),
            MacroTextSpec("url", simplify_repl="%(1)s"),
            MacroTextSpec("href", simplify_repl="%(2)s"),
            MacroTextSpec("frac", simplify_repl=fraction),
            MacroTextSpec("dfrac", simplify_repl=fraction),
            MacroTextSpec("tfrac", simplify_repl=fraction),
            *(MacroTextSpec(name, simplify_repl=quantity) for name in SI_MACROS),
            *(MacroTextSpec(name, simplify_repl=symbol) for name, symbol in SI_UNITS.items()),
        ],
        specials=[SpecialsTextSpec(mark, simplify_repl=script) for mark in "^_"],
    )
    return context


WALKER_CONTEXT = _walker_context()
RENDERER = LatexNodes2Text(latex_context=_text_context(), math_mode="text", strict_latex_spaces=False)
# Malformed LaTeX is expected input, parsed tolerantly: pylatexenc's warnings about it are noise.
logging.getLogger("pylatexenc").setLevel(logging.ERROR)


def latex_to_text(text: str) -> str:
    """Plain text of a LaTeX title or abstract, whitespace folded, TeX's dashes and quotes typeset; text
    without LaTeX comes back as is."""
    if "--" in text or "`" in text:
        text = typeset(text)
    if not has_latex_markers(text):
        return folded(text)
    if has_stripped_commands(text):
        text = restore_stripped_commands(text)
    if "\\" in text:
        text = SYMBOL_BEFORE_SPACE.sub(r"\1{}", text)
    if "~" in text:
        text = TIE.sub(" ", text)
    # Only the LaTeX islands go through the parser: an abstract is mostly plain words, and parsing costs
    # about as much per character of plain text as of markup.
    pieces, end = [], 0
    for start, island_end in itertools.islice(islands(text), MAX_PARSED_ISLANDS):
        pieces.append(text[end:start])
        pieces.append(island_text(text[start:island_end]))
        end = island_end
    rendered = "".join(pieces) + text[end:]
    return tidy(rendered.replace("``", "“").replace("''", "”"))


def islands(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each LaTeX island of `text` in order, in time linear in its length. Math between
    an opener and the first closer at least one character after it; an opener without a closer is no
    math: `\\(` and `\\[` are then escaped characters, and a `$$` the first of two single dollars."""
    # Where each closer was last found. Openers are met in order, so a closer after the current opener
    # is the first one after it; once a closer is missing from the rest of the text (-1), it is missing
    # after every later opener too. Each stretch of text is searched at most once per closer.
    found: dict[str, int] = {}
    position = 0
    while (match := ISLAND.search(text, position)) is not None:
        start, end = match.span()
        opener = match["opener"]
        if opener is not None:
            closer = CLOSERS[opener]
            at = found.get(closer)
            if at is None or 0 <= at <= end:
                at = found[closer] = text.find(closer, end + 1)
            if at >= 0:
                end = at + len(closer)
            elif opener == "$$":
                position = start + 1
                continue
        yield start, end
        position = end


def typeset(text: str) -> str:
    """TeX's typing of dashes and quotes, which sources leave in abstracts, as the characters they stand for:
    "9--52%" → "9–52%", "Flover -- a system" → "Flover – a system", "---" → "—", "`word'" → "‘word’"."""
    text = EM_DASH.sub("—", text)
    text = NUMBER_RANGE.sub("–", SPACED_DASH.sub(" – ", text))
    return SINGLE_QUOTED.sub(r"‘\1’", text.replace("``", "“").replace("''", "”"))


def has_latex_markers(text: str) -> bool:
    # Substring tests first: they cost microseconds, the patterns below a few hundred.
    if "\\" in text or "$" in text or "{" in text or "}" in text or "``" in text:
        return True
    if "~" in text and TIE.search(text):
        return True
    return has_stripped_commands(text)


def has_stripped_commands(text: str) -> bool:
    # Most abstracts are ruled out by substring tests. A text that still has backslashes was not
    # stripped, unless a never-English name shows otherwise.
    if "\\" in text:
        return has_never_english_name(text)
    if "{" in text or "^" in text or "_" in text or has_hint(text):
        return (
            next(names_in_math_context(text), None) is not None
            or next(names_before_script(text), None) is not None
            or has_never_english_name(text)
            or ("{" in text and has_stripped_fraction(text))
            or has_glued_operator(text, "times")
            or has_glued_operator(text, "cdot")
        )
    return (
        has_glued_operator(text, "times")
        or has_glued_operator(text, "cdot")
        or has_never_english_name(text, GLUED_NAMES)
    )


def names_in_math_context(text: str) -> Iterator[re.Match[str]]:
    """Command names right after a brace, ^, _, a digit or an operator, or "-" after a non-letter
    ("1/2 -epsilon"); each match starts at that character."""
    for match in NAME_IN_MATH_CONTEXT.finditer(text):
        start = match.start()
        if text[start] != "-" or (start > 0 and not _is_ascii_letter(text[start - 1])):
            yield match


def names_before_script(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each command name right before "_", "^" or a brace, after a character that is not
    a letter or a backslash ("ell_1", "(epsilon^{-1})"). Found from those characters, which are rare,
    backwards: a pattern of the names would be tried at every character."""
    for mark in "_^{":
        position = text.find(mark)
        while position >= 0:
            start = position
            while start > 0 and _is_ascii_letter(text[start - 1]):
                start -= 1
            before = text[start - 1] if start else " "
            if start < position and text[start:position] in NAMES_BEFORE_SCRIPT and before != "\\":
                yield start, position
            position = text.find(mark, position + 1)


def _is_ascii_letter(character: str) -> bool:
    return "a" <= character <= "z" or "A" <= character <= "Z"


def has_never_english_name(text: str, words: tuple[str, ...] = NEVER_ENGLISH_WORDS) -> bool:
    """A name never English, not after a backslash; substring tests for `words` rule most texts out."""
    for word in words:
        if word in text:
            return next(never_english_names(text), None) is not None
    return False


def never_english_names(text: str) -> Iterator[re.Match[str]]:
    for match in NEVER_ENGLISH_NAME.finditer(text):
        if match.start() == 0 or text[match.start() - 1] != "\\":
            yield match


def has_stripped_fraction(text: str) -> bool:
    return DIGIT_BRACE.search(text) is not None and STRIPPED_FRACTION.search(text) is not None


def has_hint(text: str) -> bool:
    # A loop, not any() over a generator: this runs on every abstract, and the generator costs more
    # than the seven substring tests.
    for word in STRIPPED_HINTS:  # noqa: SIM110
        if word in text:
            return True
    return False


def has_glued_operator(text: str, word: str) -> bool:
    # "2.57times", "mtimes n": the name right after a digit or a one-letter symbol, then a word end.
    # str.find is ~50 times cheaper than GLUED_OPERATOR on an abstract that says "three times".
    # A superset of GLUED_OPERATOR's matches, so it can also tell when that substitution is needed.
    start = text.find(word)
    while start >= 0:
        if start > 0:
            before, end = text[start - 1], start + len(word)
            is_after_symbol = before.isdigit() or (
                before.isalpha() and (start < 2 or not text[start - 2].isalpha())
            )
            if is_after_symbol and (end == len(text) or not text[end].isalnum()):
                return True
        start = text.find(word, start + 1)
    return False


def folded(text: str) -> str:
    # Most texts arrive on one line already: substring tests are cheaper than a split and join.
    if "\n" not in text and "  " not in text and "\t" not in text and "\r" not in text:
        return text.strip()
    return " ".join(text.split())


@lru_cache(maxsize=8192)
def island_text(island: str) -> str:
    """One piece of markup ("$\\mathcal{O}(n)$", "\\emph{x}", "{-}") as text; the same pieces recur
    across abstracts ("$\\times$", "\\%"), so each is parsed once per process."""
    prepared = FREE_TILDE.sub(r"\\textasciitilde{}", UNESCAPED_PERCENT.sub(r"\\%", island))
    try:
        nodes, _, _ = latexwalker.LatexWalker(
            prepared, latex_context=WALKER_CONTEXT, tolerant_parsing=True
        ).get_latex_nodes()
        text = str(RENDERER.nodelist_to_text(nodes))
    except Exception:
        # Beyond what tolerant parsing recovers from, and pylatexenc's own handlers raise what they like on
        # markup they did not expect (a bare `\title`, `\author` or `\date`: AttributeError). One title
        # must never stop a feed: the markup is stripped by `tidy` instead.
        logger.warning("LaTeX not parsed, markup stripped instead: %.80r", island)
        text = island
    # LaTeX can spell the characters the parsers removed: `\-` is a soft hyphen, `\nolinebreak` a word
    # joiner, `\textcompwordmark` a zero-width non-joiner ("Pay\-Pal" would match no keyword "PayPal").
    return without_hidden(text)


def restore_stripped_commands(text: str) -> str:
    # "{}" ends the command name without eating the space after it, as LaTeX would.
    if has_glued_operator(text, "times") or has_glued_operator(text, "cdot"):
        text = GLUED_OPERATOR.sub(r"\1\\\2{}", text)
    pieces, end = [], 0
    for match in names_in_math_context(text):
        # The character before the name stays; the name gets its backslash back.
        name_start = match.start() + 1
        pieces.append(text[end:name_start])
        pieces.append(_restored(match.group(0)[1:]))
        end = match.end()
    text = "".join(pieces) + text[end:] if pieces else text
    pieces, end = [], 0
    for start, name_end in sorted(names_before_script(text)):
        pieces.append(text[end:start])
        pieces.append(_restored(text[start:name_end]))
        end = name_end
    text = "".join(pieces) + text[end:] if pieces else text
    text = GLUED_SIZING.sub(_sizing, text)
    if has_never_english_name(text):
        pieces, end = [], 0
        for match in never_english_names(text):
            pieces.append(text[end : match.start()])
            pieces.append(_restored(match.group(0)))
            end = match.end()
        text = "".join(pieces) + text[end:]
    return STRIPPED_FRACTION.sub(r"\1/{", text) if has_stripped_fraction(text) else text


def _sizing(match: re.Match[str]) -> str:
    # Glued to a symbol (or, for "right", to the bracket it closes after): the command, followed at once
    # by its delimiter ("\\left(", never "\\left{}(").
    name, start = match.group(0), match.start()
    before = match.string[start - 1] if start else " "
    is_glued = _is_ascii_letter(before) or (name == "right" and before in ")]")
    return "\\" + name if is_glued else name


def _restored(name: str) -> str:
    if name in DROPPED_ACCENTS:
        return ""
    return "\\" + name + ("" if name in TAKE_ARGUMENTS else "{}")


def tidy(text: str) -> str:
    text = LEFTOVER_MARKUP.sub("", LEFTOVER_COMMAND.sub(" ", text.replace("\\%", "%")))
    text = " ".join(EMPTY_BRACKETS.sub("", " ".join(text.split())).split())
    text = SPACE_AFTER_OPENING.sub(r"\1", SPACE_BEFORE_PUNCTUATION.sub(r"\1", text))
    if ".." in text:
        text = DOUBLED_PERIOD.sub(".", text)
    return " ".join(text.split())


def has_latex_debris(text: str) -> bool:
    return DEBRIS.search(text) is not None
