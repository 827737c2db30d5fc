"""The offline token estimator: tokens in a request body, from counts of its kinds of bytes.

BPE tokenizers (cl100k, o200k, Claude's) spend roughly one token on four letters of a common word,
one on two or three digits, one on a pair of JSON punctuation marks such as `":` or `",`, one on a
line break together with its indentation, and almost nothing on the single space in front of a
word. The weights below encode exactly that, and JSON escapes count as the character they stand
for (`\\n` is a line break, `\\"` one quote), because the model reads the decoded text.

The estimate is a linear sum over bytes, so the estimate of a body equals the sum of the estimates
of any split of it; `tokens_after` is computed from the changed spans alone. The weights were set
by hand from typical tokenizations, not fitted to a tokenizer, so absolute figures are rough; the
gateway calibrates them per request against billed usage (k = billed input tokens / estimated
tokens sent). What matters here is that the same text always gets the same figure and that
removed bytes are valued like the bytes that remain.
"""

from __future__ import annotations

_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
_DIGITS = b"0123456789"
_NON_ASCII = bytes(range(0x80, 0x100))

LETTER = 0.25
DIGIT = 0.45
PUNCTUATION = 0.55
SPACE = 0.05
NEWLINE = 1.0
TAB = 0.5
# UTF-8 continuation and lead bytes: a CJK character (3 bytes) is one to two tokens.
NON_ASCII = 0.45
# A JSON `\uXXXX` escape is six ASCII bytes for one character: count it as about one token.
UNICODE_ESCAPE = 1.0


def estimate(data: bytes) -> float:
    """Estimated tokens in `data` (UTF-8), unrounded so that estimates of parts add up."""
    size = len(data)
    if not size:
        return 0.0
    letters = size - len(data.translate(None, _LETTERS))
    digits = size - len(data.translate(None, _DIGITS))
    non_ascii = size - len(data.translate(None, _NON_ASCII))
    spaces = data.count(b" ")
    newlines = data.count(b"\n")
    tabs = data.count(b"\t")
    punctuation = size - letters - digits - non_ascii - spaces - newlines - tabs
    tokens = (
        letters * LETTER
        + digits * DIGIT
        + punctuation * PUNCTUATION
        + spaces * SPACE
        + newlines * NEWLINE
        + tabs * TAB
        + non_ascii * NON_ASCII
    )
    if b"\\" in data:
        tokens += _escape_adjustment(data)
    return tokens


def _escape_adjustment(data: bytes) -> float:
    """Re-value JSON escapes as the characters they stand for."""
    # `\n` was counted as a mark and a letter, `\t` likewise, `\"` as two marks, `\uXXXX` as a
    # mark, a letter and four hex digits or letters (about 1.95 tokens).
    escaped_newlines = data.count(b"\\n")
    escaped_tabs = data.count(b"\\t")
    escaped_quotes = data.count(b'\\"')
    unicode_escapes = data.count(b"\\u")
    return (
        escaped_newlines * (NEWLINE - PUNCTUATION - LETTER)
        + escaped_tabs * (TAB - PUNCTUATION - LETTER)
        + escaped_quotes * -PUNCTUATION
        + unicode_escapes * (UNICODE_ESCAPE - PUNCTUATION - LETTER - 4 * (DIGIT + LETTER) / 2)
    )


def count(data: bytes) -> int:
    """Estimated tokens in `data`, rounded."""
    return round(estimate(data))
