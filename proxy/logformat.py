"""The gateway's log format: a message never spans lines or carries control characters, so text a
client chose (a path, a model name) cannot forge a log line of its own.
"""

from __future__ import annotations

import logging


class EscapingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        # The common case is one C-speed check; only a message that fails it is rebuilt.
        if not message.isprintable():
            record.msg, record.args = escape(message), None
        return super().format(record)


def escape(text: str) -> str:
    """CR, LF, tab and every other non-printable character as a visible escape."""
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
