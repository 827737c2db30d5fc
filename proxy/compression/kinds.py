"""What a tool result is: text that must reach the model exactly as sent, or command output that
may be cleaned and thinned.

A file's text (agents edit files by exact string match), a patch, prose and anything not known to
be command output are exact in every mode. Only output of a command, or text shaped like it, is
ever changed.
"""

from __future__ import annotations

import re

from proxy.compression.context import Context
from proxy.compression.logs import log_line_share

# The line-number gutter of a file shown by a Read tool (`    12→text`) or `cat -n` (`    12\t`).
_NUMBERED = re.compile(r" *\d+(?:→|\t)")
# A line of running text: at least five words, opening like a sentence, a heading or an item.
_PROSE_LINE = re.compile(
    r"[ \t]*(?:[#>*+-]+[ \t]+|\d+[.)][ \t]+)?[\"'(\[`]?[A-Za-z]\S*(?:\s+\S+){4}"
)
_DIFF = re.compile(r"(?:diff --git |--- a/|\+\+\+ b/|@@ -\d)", re.M)
# The commonest English words: running text is full of them, listings and logs are not.
_FUNCTION_WORD_TEXT = (
    "the of and to a in is it that for on as with be by this are or not an was at from which "
    "you can if will have has but all may any its their they we these such other must should "
    "when into than then there so no each been would"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORD_TEXT.split())
# Prose has about four function words in ten; listings of names and versions well under one.
FUNCTION_WORD_SHARE = 0.15
_WORD = re.compile(r"[A-Za-z']+")
SAMPLE_CHARS = 4 * 1024
# A text whose lines are mostly numbered is a file shown with its line numbers.
NUMBERED_SHARE = 0.6
PROSE_SHARE = 0.5
# Unless the call says so, text counts as command output when this share of lines looks like it.
OUTPUT_SHARE = 0.2


def _sample(text: str) -> list[str]:
    if len(text) > 2 * SAMPLE_CHARS:
        text = text[:SAMPLE_CHARS] + "\n" + text[-SAMPLE_CHARS:]
    return [line for line in text.split("\n") if line.strip()]


def is_exact(text: str, context: Context) -> bool:
    """Whether the text must be forwarded byte for byte: a file, a patch, prose, or not known to
    be command output."""
    if context.reads_a_file or context.shows_a_diff:
        return True
    lines = _sample(text)
    if not lines:
        return True
    if _share(_NUMBERED, lines) >= NUMBERED_SHARE or _is_diff(text):
        return True
    if "\x1b[" in text:
        # Terminal colours: the text was printed to a terminal by a program, not read from a file.
        return False
    output_share = log_line_share(lines)
    if output_share < OUTPUT_SHARE and _is_prose(lines):
        return True
    return not context.runs_a_command and output_share < OUTPUT_SHARE


def _is_prose(lines: list[str]) -> bool:
    """Running text: mostly lines of several words, and those words full of "the", "of", "and"."""
    if _share(_PROSE_LINE, lines) < PROSE_SHARE:
        return False
    words = _WORD.findall("\n".join(lines))
    common = sum(1 for word in words if word.lower() in FUNCTION_WORDS)
    return common >= FUNCTION_WORD_SHARE * len(words)


def _share(pattern: re.Pattern[str], lines: list[str]) -> float:
    return sum(1 for line in lines if pattern.match(line)) / len(lines)


def _is_diff(text: str) -> bool:
    return (
        text.startswith("diff --git")
        or "\ndiff --git " in text
        or (text.startswith("--- ") and len(_DIFF.findall(text, 0, SAMPLE_CHARS)) >= 3)
    )
