"""import_routes and export_routes: the SPEC §2 JSON format in and out of the route table."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from routing.models import UpstreamRoute

pytestmark = pytest.mark.django_db

THREE_ROUTES = [
    {
        "model_prefix": "glm-",
        "upstream": "https://ollama.com",
        "protocol": "openai",
        "auth": "env:OLLAMA_API_KEY",
    },
    {
        "model_prefix": "anthropic:",
        "upstream": "https://api.anthropic.com",
        "protocol": "anthropic",
        "auth": "passthrough",
        "strip_prefix": True,
        "compression": "off",
        "cache_ttl": 300,
        "connect_timeout": 3,
        "read_timeout": 90.5,
        "enabled": False,
        "notes": "Claude through its own API",
    },
    {"model_prefix": "*", "upstream": "https://api.openai.com"},
]


def run(*args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, entries: Any) -> str:
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return str(path)


def table() -> list[tuple[Any, ...]]:
    """Every column of every route, in evaluation order."""
    fields = [field.attname for field in UpstreamRoute._meta.concrete_fields]
    return list(UpstreamRoute.objects.order_by("position", "id").values_list(*fields))


def prefixes() -> list[str]:
    return list(
        UpstreamRoute.objects.order_by("position", "id").values_list("model_prefix", flat=True)
    )


def make_route(prefix: str, position: int, **fields: Any) -> UpstreamRoute:
    return UpstreamRoute.objects.create(model_prefix=prefix, position=position, **fields)


# Sources


def test_it_imports_routes_from_a_file_in_order(tmp_path: Path) -> None:
    run("import_routes", write(tmp_path, THREE_ROUTES))

    routes = list(UpstreamRoute.objects.order_by("position", "id"))
    assert [(r.position, r.model_prefix, r.upstream) for r in routes] == [
        (0, "glm-", "https://ollama.com"),
        (1, "anthropic:", "https://api.anthropic.com"),
        (2, "*", "https://api.openai.com"),
    ]
    claude = routes[1]
    assert (claude.protocol, claude.auth, claude.strip_prefix, claude.compression) == (
        "anthropic",
        "passthrough",
        True,
        "off",
    )
    assert (claude.cache_ttl, claude.connect_timeout, claude.read_timeout) == (300, 3, 90.5)
    assert (claude.enabled, claude.notes) == (False, "Claude through its own API")


def test_omitted_keys_take_the_model_defaults(tmp_path: Path) -> None:
    run("import_routes", write(tmp_path, [{"model_prefix": "gpt-"}]))

    route = UpstreamRoute.objects.get()
    assert (route.upstream, route.protocol, route.auth, route.strip_prefix) == (
        "",
        "openai",
        "passthrough",
        False,
    )
    assert (route.compression, route.cache_ttl, route.enabled, route.notes) == ("", 0, True, "")
    assert (route.connect_timeout, route.read_timeout) == (None, None)


def test_it_imports_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run("import_routes", "-", stdin=json.dumps(THREE_ROUTES), monkeypatch=monkeypatch)

    assert prefixes() == ["glm-", "anthropic:", "*"]
    assert out == "Imported 3 routes: 3 created, 0 updated, 0 unchanged, 0 deleted.\n"


def test_it_imports_from_the_environment_setting(settings: Any) -> None:
    settings.HEADROOM_UPSTREAM_ROUTES = json.dumps(THREE_ROUTES[:2])

    run("import_routes", "--from-env")

    assert prefixes() == ["glm-", "anthropic:"]


def test_an_empty_environment_setting_changes_nothing(settings: Any) -> None:
    make_route("glm-", 0)
    settings.HEADROOM_UPSTREAM_ROUTES = "  "

    out = run("import_routes", "--from-env", "--replace")

    assert out == "HEADROOM_UPSTREAM_ROUTES is empty; nothing imported.\n"
    assert prefixes() == ["glm-"]


def test_it_prints_a_one_line_summary(tmp_path: Path) -> None:
    make_route("glm-", 0, upstream="https://ollama.com", auth="env:OLLAMA_API_KEY")
    make_route("old-", 1)

    out = run("import_routes", "--replace", write(tmp_path, THREE_ROUTES))

    assert out == "Imported 3 routes: 2 created, 0 updated, 1 unchanged, 1 deleted.\n"


def test_it_refuses_both_a_file_and_from_env(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="exactly one source"):
        run("import_routes", "--from-env", write(tmp_path, THREE_ROUTES))
    assert not UpstreamRoute.objects.exists()


def test_it_refuses_to_run_without_a_source() -> None:
    with pytest.raises(CommandError, match="exactly one source"):
        run("import_routes")


def test_a_missing_file_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read .*nope.json"):
        run("import_routes", str(tmp_path / "nope.json"))


# Merging (no --replace)


def test_merging_updates_a_route_with_the_same_prefix_in_place(tmp_path: Path) -> None:
    route = make_route("GLM-", 7, upstream="https://old.example", notes="kept?")
    make_route("claude-", 8)

    run("import_routes", write(tmp_path, [THREE_ROUTES[0]]))

    route.refresh_from_db()
    assert (route.position, route.model_prefix, route.upstream, route.auth) == (
        7,
        "glm-",
        "https://ollama.com",
        "env:OLLAMA_API_KEY",
    )
    assert route.notes == ""  # the entry describes the whole route; omitted keys are defaults
    assert UpstreamRoute.objects.count() == 2


def test_merging_appends_new_routes_after_the_existing_ones(tmp_path: Path) -> None:
    make_route("glm-", 4)
    make_route("claude-", 9)

    run("import_routes", write(tmp_path, [THREE_ROUTES[2], {"model_prefix": "gemini-"}]))

    assert list(UpstreamRoute.objects.values_list("model_prefix", "position")) == [
        ("glm-", 4),
        ("claude-", 9),
        ("*", 10),
        ("gemini-", 11),
    ]


def test_merging_deletes_nothing(tmp_path: Path) -> None:
    make_route("old-", 0)

    run("import_routes", write(tmp_path, THREE_ROUTES))

    assert prefixes() == ["old-", "glm-", "anthropic:", "*"]


def test_reimporting_the_same_list_is_a_no_op(settings: Any) -> None:
    settings.HEADROOM_UPSTREAM_ROUTES = json.dumps(THREE_ROUTES)
    run("import_routes", "--from-env")
    before = table()

    out = run("import_routes", "--from-env")

    assert table() == before
    assert out == "Imported 3 routes: 0 created, 0 updated, 3 unchanged, 0 deleted.\n"


def test_repeated_prefixes_pair_with_existing_routes_in_order(tmp_path: Path) -> None:
    first = make_route("glm-", 0, upstream="https://a.example", enabled=False)
    second = make_route("glm-", 1, upstream="https://b.example")
    entries = [
        {"model_prefix": "glm-", "upstream": "https://a2.example", "enabled": False},
        {"model_prefix": "glm-", "upstream": "https://b2.example"},
        {"model_prefix": "glm-", "upstream": "https://c.example"},
    ]

    run("import_routes", write(tmp_path, entries))

    rows = list(UpstreamRoute.objects.values_list("pk", "upstream", "position"))
    assert rows[:2] == [(first.pk, "https://a2.example", 0), (second.pk, "https://b2.example", 1)]
    assert rows[2][1:] == ("https://c.example", 2)


# Replacing


def test_replacing_deletes_the_routes_the_list_does_not_name(tmp_path: Path) -> None:
    make_route("old-", 0)
    make_route("older-", 1)

    run("import_routes", "--replace", write(tmp_path, THREE_ROUTES))

    assert prefixes() == ["glm-", "anthropic:", "*"]


def test_replacing_orders_the_routes_as_the_list_does(tmp_path: Path) -> None:
    star = make_route("*", 0)
    glm = make_route("glm-", 1)

    run("import_routes", "--replace", write(tmp_path, [{"model_prefix": "glm-"}, THREE_ROUTES[2]]))

    assert list(UpstreamRoute.objects.values_list("pk", "model_prefix")) == [
        (glm.pk, "glm-"),
        (star.pk, "*"),
    ]


def test_replacing_keeps_the_id_of_a_route_it_updates(tmp_path: Path) -> None:
    route = make_route("glm-", 3, upstream="https://old.example")

    run("import_routes", "--replace", write(tmp_path, [THREE_ROUTES[0]]))

    assert list(UpstreamRoute.objects.values_list("pk", "upstream", "position")) == [
        (route.pk, "https://ollama.com", 3)
    ]


def test_replacing_with_an_empty_list_deletes_every_route(tmp_path: Path) -> None:
    make_route("glm-", 0)

    out = run("import_routes", "--replace", write(tmp_path, []))

    assert not UpstreamRoute.objects.exists()
    assert out == "Imported 0 routes: 0 created, 0 updated, 0 unchanged, 1 deleted.\n"


# Export and the round trip


def test_export_prints_every_key_of_every_route_in_position_order() -> None:
    make_route("*", 5, upstream="https://api.openai.com")
    make_route(
        "claude-",
        1,
        protocol="anthropic",
        auth="env:ANTHROPIC_API_KEY",
        strip_prefix=True,
        compression="lossless",
        cache_ttl=60,
        connect_timeout=2.5,
        allowed_paths="/v1/messages/batches",
        allowed_methods="POST",
        idle_timeout=30.0,
        retries=0,
        retry_any_surface=True,
        fallback="*",
        enabled=False,
        notes="ünïcode",
    )

    out = run("export_routes")

    assert json.loads(out) == [
        {
            "model_prefix": "claude-",
            "upstream": "",
            "protocol": "anthropic",
            "auth": "env:ANTHROPIC_API_KEY",
            "strip_prefix": True,
            "compression": "lossless",
            "compression_min_bytes": None,
            "cache_ttl": 60,
            "connect_timeout": 2.5,
            "read_timeout": None,
            "allowed_paths": "/v1/messages/batches",
            "allowed_methods": "POST",
            "forward_account_headers": False,
            "idle_timeout": 30.0,
            "retries": 0,
            "retry_any_surface": True,
            "fallback": "*",
            "enabled": False,
            "notes": "ünïcode",
        },
        {
            "model_prefix": "*",
            "upstream": "https://api.openai.com",
            "protocol": "openai",
            "auth": "passthrough",
            "strip_prefix": False,
            "compression": "",
            "compression_min_bytes": None,
            "cache_ttl": 0,
            "connect_timeout": None,
            "read_timeout": None,
            "allowed_paths": "",
            "allowed_methods": "",
            "forward_account_headers": False,
            "idle_timeout": None,
            "retries": 2,
            "retry_any_surface": False,
            "fallback": "",
            "enabled": True,
            "notes": "",
        },
    ]
    assert out.startswith('[\n  {\n    "model_prefix": "claude-",') and "ünïcode" in out


def test_export_of_an_empty_table_is_an_empty_list() -> None:
    assert json.loads(run("export_routes")) == []


def test_export_piped_into_a_replacing_import_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Admin-made tables have gaps and ties in position; the round trip must keep them as they are.
    make_route("claude-", 0, protocol="anthropic", auth="env:ANTHROPIC_API_KEY", read_timeout=30)
    make_route("claude-3", 0, strip_prefix=True, enabled=False, notes="tie at 0")
    make_route("glm-", 10, upstream="https://ollama.com/v1/", cache_ttl=300, compression="off")
    make_route("glm-", 10, upstream="https://api.z.ai")
    make_route("*", 40, upstream="https://api.openai.com", connect_timeout=1.5)
    before = table()

    exported = run("export_routes")
    out = run("import_routes", "--replace", "-", stdin=exported, monkeypatch=monkeypatch)

    assert table() == before
    assert out == "Imported 5 routes: 0 created, 0 updated, 5 unchanged, 0 deleted.\n"


def test_an_exported_table_imports_into_an_empty_one_with_the_same_routes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run("import_routes", write(tmp_path, THREE_ROUTES))
    exported = run("export_routes")
    UpstreamRoute.objects.all().delete()

    run("import_routes", "-", stdin=exported, monkeypatch=monkeypatch)

    assert run("export_routes") == exported


# Rejection as a whole


@pytest.mark.parametrize(
    ("bad_entry", "message"),
    [
        ({"model_prefix": "x-", "auth": "token"}, "entry 2: auth: Enter 'passthrough' or 'env:'"),
        ({"model_prefix": "x-", "auth": "env:1BAD"}, "entry 2: auth: Enter 'passthrough'"),
        ({"model_prefix": "x-", "upstream": "ftp://x"}, "entry 2: upstream: Enter an http(s)"),
        ({"model_prefix": "x-", "upstream": "http://u:p@h"}, "entry 2: upstream: Enter an http"),
        ({"model_prefix": "x-", "protocol": "grpc"}, "entry 2: protocol: Value 'grpc' is not"),
        ({"model_prefix": "x-", "compression": "max"}, "entry 2: compression: Value 'max' is"),
        ({"model_prefix": "x-", "cache_ttl": -1}, "entry 2: cache_ttl: Ensure this value is"),
        ({"model_prefix": "x-", "cache_ttl": True}, "entry 2: cache_ttl: must be a whole number"),
        ({"model_prefix": "x-", "cache_ttl": 1.5}, "entry 2: cache_ttl: must be a whole number"),
        ({"model_prefix": "x-", "strip_prefix": "yes"}, "entry 2: strip_prefix: must be true or"),
        ({"model_prefix": "x-", "read_timeout": 0}, "entry 2: read_timeout: must be a number of"),
        ({"model_prefix": "x-", "upstream": None}, "entry 2: upstream: must be a string"),
        ({"model_prefix": "x-", "colour": "red"}, "entry 2: colour: unknown key (known: model_"),
        ({"model_prefix": "x-", "position": 4}, "entry 2: position: unknown key"),
        ({"upstream": "https://ollama.com"}, "entry 2: model_prefix: this key is required"),
        ({"model_prefix": ""}, "entry 2: model_prefix: This field cannot be blank."),
        ({"model_prefix": "x" * 201}, "entry 2: model_prefix: Ensure this value has at most 200"),
        (["model_prefix", "x-"], "entry 2: must be a JSON object"),
    ],
)
def test_a_bad_entry_rejects_the_whole_file_naming_its_index_and_field(
    tmp_path: Path, bad_entry: Any, message: str
) -> None:
    keep = make_route("glm-", 0, upstream="https://ollama.com")
    before = table()

    with pytest.raises(CommandError) as raised:
        run("import_routes", "--replace", write(tmp_path, [THREE_ROUTES[2], bad_entry]))

    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{tmp_path / 'routes.json'}: rejected, nothing imported:")
    assert table() == before and UpstreamRoute.objects.get().pk == keep.pk


def test_every_bad_entry_is_reported_at_once(tmp_path: Path) -> None:
    entries = [
        THREE_ROUTES[0],
        {"model_prefix": "a-", "auth": "token", "enabled": "no"},
        THREE_ROUTES[2],
        {"upstream": "https://"},
    ]

    with pytest.raises(CommandError) as raised:
        run("import_routes", write(tmp_path, entries))

    lines = str(raised.value).splitlines()[1:]
    assert [line.strip().split(":")[0:2] for line in lines] == [
        ["entry 2", " enabled"],
        ["entry 2", " auth"],
        ["entry 4", " model_prefix"],
        ["entry 4", " upstream"],
    ]
    assert not UpstreamRoute.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"model_prefix": "a-"},]', "not valid JSON: "),
        ('{"model_prefix": "a-"}', "the routes must be a JSON list of objects"),
        ("", "not valid JSON: "),
    ],
)
def test_text_that_is_not_a_json_list_is_rejected(
    monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    make_route("glm-", 0)

    with pytest.raises(
        CommandError, match="^standard input: rejected, nothing imported:\n"
    ) as raised:
        run("import_routes", "--replace", "-", stdin=text, monkeypatch=monkeypatch)

    assert message in str(raised.value)
    assert prefixes() == ["glm-"]


def test_an_invalid_environment_setting_is_rejected_and_named(settings: Any) -> None:
    settings.HEADROOM_UPSTREAM_ROUTES = json.dumps([{"model_prefix": "a-", "auth": "key"}])

    with pytest.raises(CommandError) as raised:
        run("import_routes", "--from-env")

    assert str(raised.value).startswith("HEADROOM_UPSTREAM_ROUTES: rejected, nothing imported:")
    assert "entry 1: auth: Enter 'passthrough'" in str(raised.value)
    assert not UpstreamRoute.objects.exists()


def test_a_failure_while_writing_leaves_the_table_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_route("old-", 0)
    before = table()
    original_save = UpstreamRoute.save

    def save_then_fail(route: UpstreamRoute, *args: Any, **kwargs: Any) -> None:
        original_save(route, *args, **kwargs)
        if route.model_prefix == "*":
            raise RuntimeError("disk full")

    monkeypatch.setattr(UpstreamRoute, "save", save_then_fail)

    with pytest.raises(RuntimeError, match="disk full"):
        run("import_routes", "--replace", write(tmp_path, THREE_ROUTES))

    assert table() == before


# Fallbacks


def test_fallbacks_in_the_file_are_imported(tmp_path: Path) -> None:
    entries = [
        {"model_prefix": "gpt-", "fallback": "glm-", "retries": 1, "idle_timeout": 20},
        {"model_prefix": "glm-", "retry_any_surface": True},
    ]

    run("import_routes", write(tmp_path, entries))

    assert list(
        UpstreamRoute.objects.values_list("model_prefix", "fallback", "retries", "idle_timeout")
    ) == [("gpt-", "glm-", 1, 20.0), ("glm-", "", 2, None)]
    assert UpstreamRoute.objects.get(model_prefix="glm-").retry_any_surface


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (
            [{"model_prefix": "gpt-", "fallback": "glm-"}],
            "gpt-: fallback: no other enabled route has the model prefix 'glm-'",
        ),
        (
            [
                {"model_prefix": "gpt-", "fallback": "glm-"},
                {"model_prefix": "glm-", "fallback": "gpt-"},
            ],
            "gpt-: fallback: fallbacks form a cycle: gpt- → glm- → gpt-",
        ),
    ],
)
def test_a_file_whose_fallbacks_do_not_hold_imports_nothing(
    tmp_path: Path, entries: list[dict], problem: str
) -> None:
    existing = make_route("claude-", 0)

    with pytest.raises(CommandError) as error:
        run("import_routes", "--replace", write(tmp_path, entries))

    assert problem in str(error.value) and "nothing imported" in str(error.value)
    assert list(UpstreamRoute.objects.values_list("pk", flat=True)) == [existing.pk]


def test_a_merge_may_fall_back_to_a_route_the_file_does_not_name(tmp_path: Path) -> None:
    make_route("claude-", 0)

    run("import_routes", write(tmp_path, [{"model_prefix": "gpt-", "fallback": "claude-"}]))

    assert UpstreamRoute.objects.get(model_prefix="gpt-").fallback == "claude-"
