"""The tool-output corpus in tests/data/compression, as the tests read it."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "data" / "compression"


def read(name: str) -> str:
    """One corpus file, e.g. `json/k8s_pods.json`."""
    return (CORPUS / name).read_text(encoding="utf-8")


# Ten tool outputs of every category, in the order a replayed agent session receives them.
SESSION_OUTPUTS = [
    read(name)
    for name in (
        "logs/pytest_failures.txt",
        "json/api_customers.json",
        "search/ripgrep.txt",
        "git/git_diff.txt",
        "logs/npm_install.txt",
        "json/github_runs.json",
        "logs/cargo_build.txt",
        "git/git_log.txt",
        "traces/java_spring.txt",
        "json/k8s_pods.json",
    )
]
