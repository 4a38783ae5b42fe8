"""The nesting guard counts brackets as JSON sees them: inside strings they are text."""

from __future__ import annotations

import json

from api.limits import MAX_JSON_DEPTH, nested_deeper_than


def test_real_bodies_pass_and_deep_ones_do_not() -> None:
    party = {"entry_point": "EP-1", "travellers": [{"places": [{"street": "ST-1"}]}] * 12}
    assert not nested_deeper_than(json.dumps(party).encode(), MAX_JSON_DEPTH)
    assert not nested_deeper_than(b"[" * 32 + b"]" * 32, 32)
    assert nested_deeper_than(b"[" * 33 + b"]" * 33, 32)
    assert nested_deeper_than(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 32)
    # Unclosed is still deep: the guard does not wait for the parser to find the error.
    assert nested_deeper_than(b"[" * 40, 32)


def test_brackets_in_strings_are_text() -> None:
    name = "[" * 100 + '\\"{' * 50  # escaped quotes do not end the string
    body = json.dumps({"name": name, "list": [[1]]}).encode()
    assert not nested_deeper_than(body, 3)
    assert nested_deeper_than(json.dumps({"name": "]" * 100, "x": [[[[1]]]]}).encode(), 3)
