"""Lossless clean-up of tool-output text: carriage-return overwrites, terminal escapes, trailing
whitespace, blank-line runs.

Each step leaves what a reader of the text sees unchanged, so every mode may apply it.
"""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) and two-byte escapes.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[@-Z\\-_]"
)
# The escapes that erase a line, or the rest of it: what was drawn before them stops showing.
_ERASE_LINE = re.compile(r"\x1b\[[012]?K")
_TRAILING_CHARS = " \t\r\f\v"
_BLANK_RUNS = re.compile(r"\n{3,}")


def strip_ansi(text: str) -> str:
    """Text without terminal escape codes (colours, cursor movement, hyperlinks)."""
    if "\x1b" not in text:
        return text
    return _ANSI.sub("", text)


def resolve_overwrites(text: str) -> str:
    """Each line redrawn with carriage returns (a progress bar) as a terminal finally shows it.

    A carriage return sends the cursor back to the start of the line and the next drawing writes
    over the last one, so each column shows the character of the latest drawing that reached it;
    a drawing that erases the line hides everything drawn before it. Carriage returns at the end
    of a line (CRLF) are left to the trailing-whitespace step.
    """
    if "\r" not in text:
        return text
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if "\r" in line and "\r" in line.rstrip("\r"):
            lines[index] = _final_drawing(line.rstrip("\r"))
    return "\n".join(lines)


def _final_drawing(line: str) -> str:
    """What a terminal shows of one line drawn several times. Linear in the line's length: the
    drawings are read from the last one back, each adding only the columns no later one covered."""
    pieces: list[str] = []
    width = 0
    for drawing in reversed(line.split("\r")):
        erased = "\x1b" in drawing and _ERASE_LINE.search(drawing) is not None
        visible = strip_ansi(drawing)
        if len(visible) > width:
            pieces.append(visible[width:])
            width = len(visible)
        if erased:
            break
    return "".join(pieces)


def strip_trailing_whitespace(text: str) -> str:
    """Every line without the spaces, tabs and carriage returns at its end (CRLF becomes LF)."""
    if not _has_trailing_whitespace(text):
        return text
    # A regular expression anchored at line ends tries every space of the text; stripping each
    # line is one C call per line.
    return "\n".join([line.rstrip(_TRAILING_CHARS) for line in text.split("\n")])


def _has_trailing_whitespace(text: str) -> bool:
    """Whether stripping could change the text: checking is far cheaper than splitting it.

    Form feeds and vertical tabs are only looked for at the very end of the text; elsewhere they
    go only when some other trailing whitespace makes the text be stripped.
    """
    # Tabs and carriage returns are rare, and a one-character search is much faster than a
    # two-character one, so the tab search runs only when the text has a tab at all.
    return (
        text.endswith((" ", "\t", "\f", "\v"))
        or "\r" in text
        or " \n" in text
        or ("\t" in text and "\t\n" in text)
    )


def collapse_blank_lines(text: str) -> str:
    """Runs of blank lines become one blank line. Run after trailing whitespace is stripped."""
    if "\n\n\n" not in text:
        return text
    return _BLANK_RUNS.sub("\n\n", text)


def clean_text(text: str) -> str:
    """All four lossless steps, in the order that lets each see the previous one's result: the
    overwrites first, while the escapes that erase a line are still there to be seen."""
    return collapse_blank_lines(strip_trailing_whitespace(strip_ansi(resolve_overwrites(text))))
