"""`manage.py import_routes FILE|-|--from-env [--replace]`: load routes from SPEC §2 JSON.

The whole list is validated first and written in one transaction, or nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing import routes_file


class Command(BaseCommand):
    help = (
        "Import routes from a JSON list (a file, - for standard input, or --from-env for "
        "HEADROOM_UPSTREAM_ROUTES). Without --replace the list is merged: an entry whose "
        "model_prefix equals an existing route's (case-insensitive) updates that route in place, "
        "other entries are appended after the existing routes, and no route is deleted, so running "
        "it again is a no-op. With --replace the routes become exactly the list, in its order."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="JSON file to read, or - for standard input.")
        parser.add_argument(
            "--from-env",
            action="store_true",
            help="Read the list from the HEADROOM_UPSTREAM_ROUTES setting.",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete the routes the list does not name and order the rest as the list does.",
        )

    def handle(
        self, *args: Any, file: str | None, from_env: bool, replace: bool, **options: Any
    ) -> None:
        if (file is None) == (not from_env):
            raise CommandError(
                "Give exactly one source: a FILE, - for standard input, or --from-env."
            )
        if from_env and not settings.HEADROOM_UPSTREAM_ROUTES.strip():
            # An unset variable at boot means "routes are managed in the admin", not "delete all".
            self.stdout.write("HEADROOM_UPSTREAM_ROUTES is empty; nothing imported.")
            return
        try:
            routes = routes_file.loads(read_source(file, from_env))
            summary = routes_file.apply(routes, replace=replace)
        except routes_file.RoutesFileError as exc:
            problems = "\n".join(f"  {problem}" for problem in exc.problems)
            source = describe_source(file, from_env)
            raise CommandError(f"{source}: rejected, nothing imported:\n{problems}") from None
        self.stdout.write(str(summary))


def read_source(file: str | None, from_env: bool) -> str:
    if from_env:
        return str(settings.HEADROOM_UPSTREAM_ROUTES)
    if file == "-":
        return sys.stdin.read()
    # handle() lets from_env be false only when a file is given.
    assert file is not None
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {file}: {exc}") from None


def describe_source(file: str | None, from_env: bool) -> str:
    if from_env:
        return "HEADROOM_UPSTREAM_ROUTES"
    return "standard input" if file == "-" else str(file)
