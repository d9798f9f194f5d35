"""Waiver files of the waivers directory in GET /api/v1/waivers and `agency waiver list`:
an invalid file is listed with its CAWS rule ids, never hidden and never fatal."""

from __future__ import annotations

import shutil

from tests.api.conftest import ApiUnderTest
from tests.api.test_waivers import cli
from tests.support.caws_repos import SHAPES


async def test_waiver_files_are_listed_the_broken_one_with_its_problem(api: ApiUnderTest) -> None:
    directory = api.h.settings.effective_waivers_dir
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHAPES / "waivers" / "FEAT-0101-SCOPE-CONCURRENCY-01.yaml", directory)
    shutil.copy(SHAPES / "waivers" / "broken" / "WV-0301.yaml", directory)

    listed = (await api.http.get("/api/v1/waivers")).json()
    files = {f["id"]: f for f in listed["files"]}
    assert files["FEAT-0101-SCOPE-CONCURRENCY-01"]["valid"] is True
    broken = files["WV-0301"]
    assert (broken["valid"], broken["file"], broken["format"]) == (False, "WV-0301.yaml", "v11")
    assert [p["rule"] for p in broken["problems"]] == [
        "waiver.schema.revoked_without_revocation_record"
    ]

    result = cli(api, api.admin_key, "waiver", "list")
    assert result.exit_code == 0, result.output
    assert "WV-0301.yaml (WV-0301) is invalid" in result.output
    assert "waiver.schema.revoked_without_revocation_record" in result.output
