"""Redaction: secret values by name, credentials by shape, counts without values."""

from __future__ import annotations

from agency.redaction import Redactor, redact

GITHUB_TOKEN = "ghp_" + "Ab12" * 9


def test_secret_values_are_replaced_by_their_names_and_counted() -> None:
    r = Redactor({"API_TOKEN": "tok-123456", "INNER": "123456"})
    out = r.text("a tok-123456 b tok-123456 c 123456")
    # The longer value wins where one contains the other.
    assert out == "a [redacted:API_TOKEN] b [redacted:API_TOKEN] c [redacted:INNER]"
    assert dict(r.counts) == {"API_TOKEN": 2, "INNER": 1}


def test_credentials_are_redacted_by_shape_without_any_secret_named() -> None:
    text = f"token={GITHUB_TOKEN}\nkey AKIAABCDEFGHIJKLMNOP\n-----BEGIN RSA PRIVATE KEY-----"
    r = Redactor()
    out = r.text(text)
    assert GITHUB_TOKEN not in out and "AKIAABCDEFGHIJKLMNOP" not in out
    assert "[redacted:github-token]" in out and "[redacted:aws-access-key-id]" in out
    assert "[redacted:private-key]" in out
    assert dict(r.counts) == {"github-token": 1, "aws-access-key-id": 1, "private-key": 1}
    assert redact(f"use {GITHUB_TOKEN}") == "use [redacted:github-token]"


def test_very_short_values_are_not_searched_for() -> None:
    r = Redactor({"PIN": "42a"})
    assert r.text("42a is in plain sight") == "42a is in plain sight"
    assert not r.counts


def test_bytes_that_are_not_utf8_survive_redaction() -> None:
    r = Redactor({"S": "hunter22"})
    data = b"\xff\xfe binary hunter22 \x00\x80"
    assert r.data(data) == b"\xff\xfe binary [redacted:S] \x00\x80"
