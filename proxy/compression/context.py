"""What the conversation says about one tool result: the call that produced it, and the terms the
latest user turn, that call and the assistant text before it ask about.

Everything here is read from messages that come before the tool result, so a result's context,
and with it the result's compressed bytes, never changes on later turns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

# Tools and shell commands whose result is a file's text, which an agent edits by exact match.
FILE_TOOLS = frozenset(
    {
        "read",
        "read_file",
        "readfile",
        "read_many_files",
        "view",
        "view_file",
        "open_file",
        "cat",
        "str_replace_based_edit_tool",
        "text_editor",
        "notebookread",
        "fs_read",
        "get_file_contents",
    }
)
FILE_COMMANDS = frozenset(
    {"cat", "sed", "head", "tail", "less", "more", "nl", "bat", "batcat", "tac", "view", "type"}
)
# Shell commands whose output is a patch, which is applied byte for byte.
DIFF_COMMANDS = (("git", "diff"), ("git", "show"), ("diff",), ("git", "format-patch"))
# Tools that run a shell command; anything they print that is not a file is command output.
SHELL_TOOLS = frozenset(
    {
        "bash",
        "sh",
        "shell",
        "exec_command",
        "run_shell_command",
        "local_shell",
        "container.exec",
        "terminal",
        "run_terminal_cmd",
        "execute_command",
        "run_command",
        "command",
    }
)
_COMMAND_KEYS = ("command", "cmd", "commands", "script")

# A term: a word-ish run that may hold dots, slashes, dashes, colons and the like (a path, a
# version, a package, an error code, a commit id).
_TERM = re.compile(r"[\w][\w.+/:@#-]*[\w]|\w\w")
# Quoted strings; an apostrophe inside a word ("today's") opens no quote.
_QUOTED = re.compile(r"\"([^\"\n]{3,80})\"|(?<!\w)'([^'\n]{3,80})'(?!\w)|`([^`\n]{3,80})`")
MIN_TERM = 3
MAX_TERMS = 64
# Words that say how to ask, not what about; pinning them would pin nearly every line.
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each few for
    from further get gets got had has have having he her here hers him his how i if in into is it
    its itself just let lets me more most my no nor not now of off on once only or other our ours
    out over own please same she should show so some such tell than that the their theirs them
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yes
    run ran runs running check checks checked see look looks find found give list lists listed
    print printed output outputs command commands result results line lines file files read
    error errors fail fails failed failing failure failures test tests tested passing pass passed
    version versions installed install package packages latest last first next use used using
    need needs make makes made want know tell says said show shows showing shown entry entries
    step steps fix fixed broken build builds log logs status value values item items name names
    thing things something anything everything one two three new old just into onto via per
    true false none null bash shell sh zsh sudo cmd exec commit commits dev/null
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_FLAG = re.compile(r"-{1,2}[\w-]+")


@dataclass(frozen=True)
class ToolCall:
    """The call that produced a tool result: the tool's name and its arguments, parsed."""

    name: str = ""
    arguments: Any = None

    @property
    def command(self) -> str:
        """The shell command line, when the tool runs one ("" otherwise)."""
        return _command_of(self.arguments)

    @property
    def argv(self) -> list[str]:
        return self.command.split()


@dataclass(frozen=True)
class Context:
    """What a tool result is (the call behind it) and which terms pin its lines and items."""

    call: ToolCall = field(default_factory=ToolCall)
    terms: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """Everything about the context that can change a result, for the memo."""
        return (self.call.name, self.call.command, self.terms)

    @property
    def reads_a_file(self) -> bool:
        """Whether the call read a file (Read, view, `cat`, `sed -n`, `head`, ...)."""
        name = self.call.name.lower()
        if name in FILE_TOOLS:
            return True
        if name not in SHELL_TOOLS and not self.call.command:
            return False
        # What is printed is what the last command prints: `cd src && cat app.py` and
        # `cat app.py | head -50` show a file, `cat app.log | grep ERROR` and `git log | head`
        # do not.
        stages = _last_pipeline(self.call.command)
        return bool(stages) and all(_program(words) in FILE_COMMANDS for words in stages)

    @property
    def shows_a_diff(self) -> bool:
        stages = _last_pipeline(self.call.command)
        words = [w for w in (stages[0] if stages else []) if not w.startswith("-")]
        return any(tuple(words[: len(d)]) == d for d in DIFF_COMMANDS)

    @property
    def runs_a_command(self) -> bool:
        """Whether the call ran a shell command (whose output is not a file or a diff)."""
        return bool(self.call.command) or self.call.name.lower() in SHELL_TOOLS


NO_CONTEXT = Context()


def _command_of(arguments: Any) -> str:
    if isinstance(arguments, dict):
        for key in _COMMAND_KEYS:
            value = arguments.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                # Codex sends ["bash", "-lc", "pytest -q"]: the script is the last word.
                if len(value) >= 3 and value[1] in ("-c", "-lc") and value[0].endswith("sh"):
                    return str(value[-1])
                return " ".join(value)
    return ""


def _pipeline(command: str) -> Iterator[list[str]]:
    """The words of each simple command of a command line (split at `|`, `&&`, `;`)."""
    for part in re.split(r"\|\|?|&&|;|\n", command):
        words = [w for w in part.split() if "=" not in w or w.startswith("-")]
        if words:
            yield words


def _last_pipeline(command: str) -> list[list[str]]:
    """The words of each stage of the command line's last pipeline (after `&&`, `;`, `||`)."""
    lists = [part for part in re.split(r"&&|\|\||;|\n", command) if part.strip()]
    if not lists:
        return []
    stages = [
        [w for w in stage.split() if "=" not in w or w.startswith("-")]
        for stage in lists[-1].split("|")
    ]
    return [words for words in stages if words]


def _program(words: list[str]) -> str:
    if not words:
        return ""
    program = words[0].rsplit("/", 1)[-1]
    if program in ("sudo", "env", "command", "time") and len(words) > 1:
        return _program(words[1:])
    return program


def terms_of(texts: Iterable[str], call: ToolCall) -> tuple[str, ...]:
    """The terms of the call's arguments, then of the texts (the question, the assistant's text),
    lower case, in that order, at most MAX_TERMS: a pasted log in a question cannot crowd out
    the command's own terms."""
    programs = frozenset(_program(words) for words in _pipeline(call.command))
    found: dict[str, None] = {}
    for text in _strings(call.arguments):
        found.update(dict.fromkeys(text_terms(text[:TEXT_CHARS], programs)))
    for text in texts:
        found.update(dict.fromkeys(text_terms(text[:TEXT_CHARS])))
    return tuple(found)[:MAX_TERMS]


# Only the start of a long text is read for terms: a question is short, pasted material is not.
TEXT_CHARS = 8 * 1024


@lru_cache(maxsize=1024)
def text_terms(text: str, skip: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The terms of one text, in first-seen order. A conversation repeats its question for every
    tool result of every turn, so each text is read once (callers cut it to TEXT_CHARS, which
    also bounds what the cache holds)."""
    found: dict[str, None] = {}
    for match in _QUOTED.finditer(text):
        _add(found, next(group for group in match.groups() if group), skip)
    for word in _TERM.findall(text):
        if _FLAG.fullmatch(word):
            continue
        _add(found, word, skip)
        if "/" in word:
            # A path also names its file: search hits and listings often print it alone.
            _add(found, word.rstrip("/").rsplit("/", 1)[-1], skip)
        if "-" in word or "_" in word:
            # Package names are spelled either way (ahocorasick-rs, ahocorasick_rs).
            _add(found, word.replace("-", "_"), skip)
            _add(found, word.replace("_", "-"), skip)
        if "=" in word or ":" in word:
            for piece in re.split(r"[=:]+", word):
                _add(found, piece, skip)
    return tuple(found)[:MAX_TERMS]


def _add(found: dict[str, None], term: str, skip: frozenset[str]) -> None:
    term = term.strip().lower().strip(".,:;")
    if (
        len(term) < MIN_TERM
        or term in STOPWORDS
        or term in skip
        or term.isdigit()
        and len(term) < 4
    ):
        return
    found.setdefault(term, None)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for member in value.values():
            yield from _strings(member)
    elif isinstance(value, list):
        for member in value:
            yield from _strings(member)


def parsed_arguments(arguments: Any) -> Any:
    """OpenAI sends a call's arguments as a JSON string; the parsed value, or the string."""
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return {"input": arguments}
    return arguments
