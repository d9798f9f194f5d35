from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agency.cli.errors import CliError
from agency.cli.replay import rerun_spec
from agency.cli.waivers import parse_expiry

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_expiry_is_a_duration_or_an_iso_time() -> None:
    assert parse_expiry("7d", NOW) == NOW + timedelta(days=7)
    assert parse_expiry("12h", NOW) == NOW + timedelta(hours=12)
    assert parse_expiry("2030-02-01", NOW) == datetime(2030, 2, 1, tzinfo=UTC)
    assert parse_expiry("2030-02-01T10:00:00+02:00", NOW).utcoffset() == timedelta(hours=2)
    with pytest.raises(CliError, match="duration like 7d"):
        parse_expiry("next week", NOW)


def test_a_rerun_is_the_recorded_spec_at_the_base_commit_as_a_dry_run() -> None:
    spec = {"id": "F-1", "base_ref": "main", "execution_mode": "strict", "repo": "/r"}
    again = rerun_spec(spec, {"base_commit": "abc123"})
    assert again == {**spec, "base_ref": "abc123", "execution_mode": "dry_run"}
    assert spec["execution_mode"] == "strict"  # the original is untouched
    assert rerun_spec(spec, {"base_commit": None})["base_ref"] == "main"
