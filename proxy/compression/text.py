"""Lossless clean-up of tool-output text: terminal escapes, trailing whitespace, blank-line runs.

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
_TRAILING_CHARS = " \t\r\f\v"
_BLANK_RUNS = re.compile(r"\n{3,}")


def strip_ansi(text: str) -> str:
    """Text without terminal escape codes (colours, cursor movement, hyperlinks)."""
    if "\x1b" not in text:
        return text
    return _ANSI.sub("", text)


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
    """All three lossless steps, in the order that lets each see the previous one's result."""
    return collapse_blank_lines(strip_trailing_whitespace(strip_ansi(text)))
