"""Subscripts and superscripts of LaTeX math as readers see them printed: `$O(n^2)$` reads "O(n²)",
`$\\ell_1$` "ℓ₁", `$x_{t+1}$` "xₜ₊₁", `$10^{-3}$` "10⁻³".

Unicode has script forms for digits, + − = ( ) and most Latin letters, not for every character. A script
that has no printed form keeps its mark, and one longer than a character is bracketed, so it still reads
one way only: `$x_{i,j}$` reads "x_(i,j)" (the mark alone gave "x_i,j"), `$d^{1/2}$` "d^(1/2)"
("d^1/2" read as half of d).
"""

from __future__ import annotations

from typing import Literal

Script = Literal["^", "_"]

# Only the forms common fonts print; Greek script letters and the rare capitals (ⱽ) are left out.
SUPERSCRIPTS = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUW",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁᵂ",
        strict=True,
    )
)
SUBSCRIPTS = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))
FORMS = {"^": SUPERSCRIPTS, "_": SUBSCRIPTS}
# Superscripts written as a symbol of their own: a degree, a transpose, a prime, a dagger, a star.
SYMBOL_SUPERSCRIPTS = {
    "∘": "°",
    "○": "°",
    "⊤": "ᵀ",
    "′": "′",
    "'": "′",
    "†": "†",
    "*": "*",
    "∗": "*",
    "⋆": "*",
}


def scripted(mark: Script, script: str) -> str:
    """`script` (the text of a sub- or superscript, already converted) as printed after its base."""
    script = "".join(script.split())
    if not script:
        return mark
    if mark == "^" and script in SYMBOL_SUPERSCRIPTS:
        return SYMBOL_SUPERSCRIPTS[script]
    forms = FORMS[mark]
    if all(character in forms for character in script):
        return "".join(forms[character] for character in script)
    if len(script) == 1 or (script.startswith("(") and script.endswith(")")):
        return mark + script
    return f"{mark}({script})"
