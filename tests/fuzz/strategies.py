"""Inputs that break parsers: hostile characters, and near-valid text made by
mutating real samples (a few characters inserted, deleted, doubled or replaced)."""

from __future__ import annotations

from hypothesis import strategies as st

# Characters that have broken parsers before: control characters and line breaks
# str.splitlines() knows but a file reader may not, digits str.isdigit() accepts and
# int() refuses (or reads as another number), quotes, XML and shell metacharacters.
HOSTILE_CHARACTERS = (
    "\x00\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    "\u00b2\u00b3\u00b9\u0661\u0662\u0663\u07c0\u0966\U0001d7d8"
    "\"'`\\$#=:;,/@?&%[]{}<>|*~!"
    "\u202e\ufeff\u200b\xa0é中"
)
# Text that parsers receive as str: it came from protobuf strings (valid UTF-8) or
# from a file decoded with errors="replace", so never lone surrogates.
ANY_CHARACTER = st.characters(blacklist_categories=("Cs",))
HOSTILE_CHARACTER = st.sampled_from(HOSTILE_CHARACTERS)
HOSTILE_TEXT = st.text(st.one_of(HOSTILE_CHARACTER, ANY_CHARACTER), max_size=40)
# More digits than int() converts (Python 3.11 refuses above 4,300).
HUGE_NUMBER = "9" * 5000
HOSTILE_WORDS = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "0",
        "\u00b2",  # superscript two: isdigit() but not int()
        "\u0661\u0660\u0661",  # Arabic-Indic 101
        HUGE_NUMBER,
        "18446744073709551616",
        "nan",
        "inf",
        "-inf",
        "1e999",
        "0x10",
        "1_000",
        "--help",
        "$(reboot)",
        "a,b",
        "a\nb",
        "<x/>",
        "&amp;",
        "]]>",
        "\x00",
    ]
)
FRAGMENT = st.one_of(HOSTILE_TEXT, HOSTILE_WORDS)


@st.composite
def mutated(draw: st.DrawFn, seed: str, max_edits: int = 4) -> str:
    """seed with up to max_edits edits at random places."""
    text = seed
    for _ in range(draw(st.integers(0, max_edits))):
        at = draw(st.integers(0, len(text)))
        span = draw(st.integers(0, 8))
        edit = draw(st.sampled_from(["insert", "delete", "replace", "double"]))
        if edit == "insert":
            text = text[:at] + draw(FRAGMENT) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + span :]
        elif edit == "replace":
            text = text[:at] + draw(FRAGMENT) + text[at + span :]
        else:
            text = text[:at] + text[at : at + span] * 2 + text[at + span :]
    return text
