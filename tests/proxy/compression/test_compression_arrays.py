"""Thinning JSON arrays of many similar objects: what is kept, what the marker says."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression.arrays import MIN_ITEMS, looks_like_error, thin_array


def users(count: int, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """`count` similar user objects; `changes` maps an index (as "i<n>") to fields to update."""
    items = [
        {"id": i, "name": f"user_{i}", "status": "active", "score": 50 + i % 7}
        for i in range(count)
    ]
    for key, fields in changes.items():
        items[int(key[1:])].update(fields)
    return items


def kept_ids(thinned: list[Any]) -> list[int]:
    return [item["id"] for item in thinned if isinstance(item, dict)]


def markers(thinned: list[Any]) -> list[str]:
    return [item for item in thinned if isinstance(item, str)]


def test_first_and_last_items_are_kept_and_the_middle_left_out() -> None:
    thinned = thin_array(users(40))
    assert thinned is not None
    assert kept_ids(thinned) == [0, 1, 2, 38, 39]


def test_the_marker_says_how_many_items_were_left_out_and_their_keys() -> None:
    thinned = thin_array(users(40))
    assert thinned is not None
    assert markers(thinned) == [
        "[35 similar items omitted here; 35 of 40 omitted in all, errors and outliers kept; "
        "each omitted item has the keys: id, name, status, score]"
    ]


def test_items_with_an_error_field_are_kept_in_place() -> None:
    thinned = thin_array(users(40, i17={"error": "quota exceeded"}))
    assert thinned is not None
    assert kept_ids(thinned) == [0, 1, 2, 17, 38, 39]
    assert thinned[3].startswith("[14 similar items omitted here;")
    assert thinned[5] == "[20 similar items omitted here]"


def test_items_whose_status_reports_a_failure_are_kept() -> None:
    thinned = thin_array(users(40, i9={"status": "failed"}))
    assert thinned is not None
    assert 9 in kept_ids(thinned)


def test_items_with_an_http_error_code_are_kept() -> None:
    items = [{"id": i, "url": f"/p/{i}", "status_code": 200} for i in range(30)]
    items[12]["status_code"] = 503
    thinned = thin_array(items)
    assert thinned is not None
    assert 12 in kept_ids(thinned)


def test_an_error_nested_inside_an_item_keeps_it() -> None:
    items = [{"id": i, "result": {"value": i}} for i in range(30)]
    items[8]["result"] = {"value": None, "errors": [{"message": "timeout"}]}
    thinned = thin_array(items)
    assert thinned is not None
    assert 8 in kept_ids(thinned)


def test_a_rare_value_makes_an_item_an_outlier() -> None:
    thinned = thin_array(users(40, i25={"status": "suspended"}))
    assert thinned is not None
    assert 25 in kept_ids(thinned)


def test_a_number_far_from_the_rest_makes_an_item_an_outlier() -> None:
    thinned = thin_array(users(40, i30={"score": 9000}))
    assert thinned is not None
    assert 30 in kept_ids(thinned)


def test_an_item_with_a_different_shape_is_kept() -> None:
    items = users(40)
    items[11]["extra"] = True
    thinned = thin_array(items)
    assert thinned is not None
    assert 11 in kept_ids(thinned)


def test_short_arrays_are_left_whole() -> None:
    assert thin_array(users(MIN_ITEMS - 1)) is None


def test_arrays_of_scalars_or_mixed_objects_are_left_whole() -> None:
    assert thin_array(list(range(100))) is None
    assert thin_array([{"a": i} if i % 2 else {"b": i} for i in range(9)] + [1] * 20) is None


def test_a_lone_left_out_item_is_kept_instead_of_a_marker() -> None:
    # Items 0-2 and 8-9 are head and tail, 3, 4, 6 and 7 are errors: only item 5 could go.
    errors = {f"i{index}": {"error": "boom"} for index in (3, 4, 6, 7)}
    assert thin_array(users(MIN_ITEMS, **errors)) is None


def test_false_success_flags_and_nonzero_exit_codes_look_like_errors() -> None:
    assert looks_like_error({"ok": False})
    assert looks_like_error({"exit_code": 2})
    assert looks_like_error({"conclusion": "failure"})
    assert looks_like_error({"lastError": "connection reset"})


def test_empty_or_null_error_fields_do_not_look_like_errors() -> None:
    assert not looks_like_error({"error": None, "errors": [], "error_count": 0, "ok": True})
    assert not looks_like_error({"status": 200, "state": "running", "failover": "eu-west"})


ITEM = st.fixed_dictionaries(
    {
        "id": st.integers(0, 10_000),
        "state": st.sampled_from(["ok", "ok", "ok", "running", "error", "timed_out"]),
        "error": st.one_of(st.none(), st.none(), st.none(), st.text(min_size=1, max_size=10)),
        "latency_ms": st.integers(1, 200),
    }
)


def identities(kept: list[Any], items: list[Any]) -> list[int]:
    """Positions in `items` of the kept objects (by identity: thinning never copies items)."""
    where = {id(item): index for index, item in enumerate(items)}
    return [where[id(item)] for item in kept if isinstance(item, dict)]


@settings(deadline=None)
@given(st.lists(ITEM, min_size=MIN_ITEMS, max_size=120))
def test_every_error_like_item_survives_thinning(items: list[dict[str, Any]]) -> None:
    thinned = thin_array(items)
    kept = set(range(len(items))) if thinned is None else set(identities(thinned, items))
    for index, item in enumerate(items):
        if looks_like_error(item):
            assert index in kept


@settings(deadline=None)
@given(st.lists(ITEM, min_size=MIN_ITEMS, max_size=120))
def test_a_thinned_array_is_valid_json_with_items_in_their_original_order(
    items: list[dict[str, Any]],
) -> None:
    thinned = thin_array(items)
    if thinned is None:
        return
    assert json.loads(json.dumps(thinned)) == thinned
    positions = identities(thinned, items)
    assert positions == sorted(positions)
    left_out = len(items) - len(positions)
    assert f"{left_out} of {len(items)} omitted in all" in markers(thinned)[0]


def test_values_beside_one_shared_by_nine_items_in_ten_are_outliers() -> None:
    rare = {f"i{index}": {"status": f"state_{index}"} for index in (10, 15, 20, 25)}
    thinned = thin_array(users(40, **rare))
    assert thinned is not None
    assert {10, 15, 20, 25} <= set(kept_ids(thinned))


def test_values_beside_one_shared_by_fewer_than_nine_items_in_ten_are_not_outliers() -> None:
    rare = {f"i{index}": {"status": f"state_{index}"} for index in (10, 15, 20, 25, 30)}
    thinned = thin_array(users(40, **rare))
    assert thinned is not None
    assert not {10, 15, 20, 25, 30} & set(kept_ids(thinned))
