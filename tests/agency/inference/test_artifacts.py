from __future__ import annotations

from pathlib import Path

import pytest

from agency.inference.artifacts import ArtifactNotFound, ArtifactStore


def test_artifacts_are_content_addressed_files(tmp_path: Path) -> None:
    store = ArtifactStore.for_data_dir(tmp_path)
    first = store.put_text("output", "Paris")
    assert first == store.put_text("output", "Paris")  # a retry stores nothing new
    assert first != store.put_text("prompt", "Paris")
    assert store.get_text(first) == "Paris"
    ref = store.put_json("prompt", [{"role": "user", "content": "é"}])
    assert store.get_json(ref) == [{"role": "user", "content": "é"}]
    assert str(tmp_path) in str(next((tmp_path / "artifacts").rglob("*.txt")))


def test_bad_or_unknown_ids_are_not_found(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    for bad in ["../../etc/passwd", "output-xyz", "other-" + "0" * 64, "output-" + "0" * 64]:
        with pytest.raises(ArtifactNotFound):
            store.get_text(bad)
    with pytest.raises(ValueError):
        store.put_text("secret", "x")
