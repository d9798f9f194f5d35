"""Canonical JSON is RFC 8785 (JCS): checked against the RFC's own examples."""

from __future__ import annotations

import hashlib
import json
import struct

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


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53])
def test_what_json_cannot_hold_exactly_is_refused(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"score": value})


def test_rfc_8785_section_3_2_2_example() -> None:
    # RFC 8785 §3.2.2: the input (as JSON text) and its canonical form.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(text)) == expected.encode()


def test_rfc_8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonical_json(value)))
    # U+1F600 (surrogates D83D DE00) sorts before U+FB33: code points would say after.
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# RFC 8785 Appendix B: IEEE 754 doubles (as hex) and their canonical serialization.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBERS)
def test_rfc_8785_appendix_b_numbers(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(number) == expected.encode()


def test_the_legacy_form_differs_only_where_python_and_ecmascript_differ() -> None:
    value = {"score": 1.0, "tiny": 1e-7, "text": "ü", "n": 3}
    assert canonical_json(value, "legacy") == '{"n":3,"score":1.0,"text":"ü","tiny":1e-07}'.encode()
    assert canonical_json(value) == '{"n":3,"score":1,"text":"ü","tiny":1e-7}'.encode()
