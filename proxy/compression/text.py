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
_TRAILING = re.compile(r"[ \t\r\f\v]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")
# Substrings that show trailing whitespace (form feeds and vertical tabs only count at the very
# end); checking them first is far cheaper than running the regex over text that has none.
_TRAILING_HINTS = ("\r", " \n", "\t\n")


def strip_ansi(text: str) -> str:
    """Text without terminal escape codes (colours, cursor movement, hyperlinks)."""
    if "\x1b" not in text:
        return text
    return _ANSI.sub("", text)


def strip_trailing_whitespace(text: str) -> str:
    """Every line without the spaces, tabs and carriage returns at its end (CRLF becomes LF)."""
    if not (text.endswith((" ", "\t", "\f", "\v")) or any(h in text for h in _TRAILING_HINTS)):
        return text
    return _TRAILING.sub("", text)


def collapse_blank_lines(text: str) -> str:
    """Runs of blank lines become one blank line. Run after trailing whitespace is stripped."""
    if "\n\n\n" not in text:
        return text
    return _BLANK_RUNS.sub("\n\n", text)


def clean_text(text: str) -> str:
    """All three lossless steps, in the order that lets each see the previous one's result."""
    return collapse_blank_lines(strip_trailing_whitespace(strip_ansi(text)))
