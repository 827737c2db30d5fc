"""Migration steps for moving models between apps without losing a row: the table is renamed in
place, and the admin's content types (so permissions and history) follow the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Step = Callable[[Any, Any], None]


def rename_table(app: str, model: str, new_table: str, reverse: bool = False) -> Step:
    """Rename the table of `app.model` (as the migration state before the move knows it) to
    `new_table`; with `reverse`, the table is found under the moved name and given back."""

    def step(apps: Any, schema_editor: Any) -> None:
        label = app if not reverse else _moved_app(new_table)
        historical = apps.get_model(label, model)
        old = historical._meta.db_table
        schema_editor.alter_db_table(historical, old, new_table)

    return step


def _moved_app(old_table: str) -> str:
    # Reversing runs against the state after the move, where the model lives in its new app.
    return {"proxy_gatewaykey": "keys"}.get(old_table, "requestlog")


def move_content_types(old_app: str, new_app: str, models: list[str]) -> Step:
    def step(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        rows = content_type.objects.using(db).filter(app_label=old_app, model__in=models)
        rows.update(app_label=new_app)

    return step


def drop_sqlite_objects(objects: list[tuple[str, str]]) -> Step:
    """Drop triggers and tables that only ever existed on SQLite (IF EXISTS: a fresh database
    never had them)."""

    def step(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        for kind, name in objects:
            schema_editor.execute(f"DROP {kind.upper()} IF EXISTS {name}")

    return step
