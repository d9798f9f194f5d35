from __future__ import annotations

import hashlib

import pytest

from agency.provenance.canonical import canonical_json, canonical_sha256


def test_keys_sorted_no_whitespace_utf8() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"z": "ü", "y": 0}}
    assert canonical_json(value) == '{"a":{"y":0,"z":"ü"},"b":[1,2.5,null,true]}'.encode()


def test_the_same_value_in_another_order_hashes_alike() -> None:
    one = {"x": 1, "y": {"p": 1, "q": 2}}
    two = {"y": {"q": 2, "p": 1}, "x": 1}
    assert canonical_sha256(one) == canonical_sha256(two)
    assert canonical_sha256(one) == hashlib.sha256(canonical_json(one)).hexdigest()


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json({"score": float("nan")})
