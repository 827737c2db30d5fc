"""The offline token estimator: tokens in a request body, from counts of its kinds of bytes.

BPE tokenizers (cl100k, o200k, Claude's) spend roughly one token on four letters of a common word,
one on two or three digits, one on a pair of JSON punctuation marks such as `":` or `",`, one on a
line break together with its indentation, and almost nothing on the single space in front of a
word. The weights below encode exactly that, and JSON escapes count as the character they stand
for (`\\n` is a line break, `\\"` one quote), because the model reads the decoded text; rarer
escapes (`\\t`, `\\uXXXX`) are counted as written.

The estimate is a linear sum over bytes: the same text always gets the same figure, and removed
bytes are valued like the bytes that remain. The weights were set
by hand from typical tokenizations, not fitted to a tokenizer, so absolute figures are rough; the
gateway calibrates them per request against billed usage (k = billed input tokens / estimated
tokens sent).
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


# How many bytes of each kind: letters, digits, other marks, spaces, newlines, tabs, non-ASCII,
# and the `\\n` and `\\"` escapes among them. Counts add up over concatenated text, so the
# estimate of a body with some values replaced is the old tally minus theirs plus the new ones'.
Tally = tuple[int, int, int, int, int, int, int, int, int]
ZERO: Tally = (0, 0, 0, 0, 0, 0, 0, 0, 0)
_WEIGHTS = (
    LETTER,
    DIGIT,
    PUNCTUATION,
    SPACE,
    NEWLINE,
    TAB,
    NON_ASCII,
    # JSON escapes count as the character they stand for: `\\n` was counted as a mark and a
    # letter, `\\"` as two marks.
    NEWLINE - PUNCTUATION - LETTER,
    -PUNCTUATION,
)


def tally(data: bytes) -> Tally:
    """The byte counts of `data` (UTF-8) that the estimate weighs."""
    if not data:
        return ZERO
    # Each pass deletes one class of bytes and counts what went; later passes run over what is
    # left, which is much shorter once the letters are gone.
    rest = data.translate(None, _LETTERS)
    letters = len(data) - len(rest)
    others = rest.translate(None, _DIGITS)
    digits = len(rest) - len(others)
    plain = others.translate(None, _NON_ASCII)
    non_ascii = len(others) - len(plain)
    spaces = plain.count(b" ")
    newlines = plain.count(b"\n")
    tabs = plain.count(b"\t")
    escaped_newlines = escaped_quotes = 0
    if b"\\" in plain:
        escaped_newlines = data.count(b"\\n")
        escaped_quotes = data.count(b'\\"')
    punctuation = len(plain) - spaces - newlines - tabs
    return (
        letters,
        digits,
        punctuation,
        spaces,
        newlines,
        tabs,
        non_ascii,
        escaped_newlines,
        escaped_quotes,
    )


def weigh(counts: Tally) -> float:
    """Estimated tokens for a tally, unrounded."""
    return sum(count * weight for count, weight in zip(counts, _WEIGHTS, strict=True))


def combine(base: Tally, removed: Tally, added: Tally) -> Tally:
    """`base` with `removed` taken out and `added` put in (a splice's tally)."""
    return tuple(  # type: ignore[return-value]
        whole - old + new for whole, old, new in zip(base, removed, added, strict=True)
    )


def estimate(data: bytes) -> float:
    """Estimated tokens in `data` (UTF-8), unrounded."""
    return weigh(tally(data))


def count(data: bytes) -> int:
    """Estimated tokens in `data`, rounded."""
    return round(estimate(data))
