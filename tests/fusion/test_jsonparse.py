from __future__ import annotations

import pytest

from fuse_ls.core.errors import MalformedAnswer
from fuse_ls.fusion.jsonparse import parse_json_object


def test_plain_json() -> None:
    assert parse_json_object('  {"a": 1}\n') == {"a": 1}


def test_fenced_json() -> None:
    text = 'Here you go:\n```json\n{"findings": [{"x": "}"}]}\n```\nThanks!'
    assert parse_json_object(text) == {"findings": [{"x": "}"}]}


def test_unlabelled_fence() -> None:
    assert parse_json_object('```\n{"a": [1, 2]}\n```') == {"a": [1, 2]}


def test_embedded_in_prose_with_braces_before() -> None:
    text = 'The set {1, 2} is not JSON, but this is: {"winner": "B", "note": "a {b} c"} done.'
    assert parse_json_object(text) == {"winner": "B", "note": "a {b} c"}


def test_first_object_wins_and_arrays_are_skipped() -> None:
    assert parse_json_object('[1, 2] then {"a": 1} and {"b": 2}') == {"a": 1}


def test_bom_and_whitespace() -> None:
    assert parse_json_object('\ufeff {"a": true}') == {"a": True}


@pytest.mark.parametrize(
    "text", ["", "   ", "no json here", '{"findings": [', "[1, 2, 3]", '{"a": 1,}']
)
def test_nothing_parses(text: str) -> None:
    with pytest.raises(MalformedAnswer, match="expected a JSON object") as caught:
        parse_json_object(text, model="m/x")
    assert caught.value.model == "m/x"
    assert str(caught.value).startswith("m/x: ")


def test_excerpt_is_short() -> None:
    with pytest.raises(MalformedAnswer) as caught:
        parse_json_object("word " * 500)
    assert len(str(caught.value)) < 250
