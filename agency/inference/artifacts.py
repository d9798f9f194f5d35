"""Prompts and model outputs as artifacts: files under the data dir, referenced by id.

Workflow history carries only the ids. Ids are content addresses (kind + SHA-256), so a
retried activity that stores the same text gets the same id and writes nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

ID_PATTERN = re.compile(r"^(prompt|output)-[0-9a-f]{64}$")


class ArtifactNotFound(LookupError):
    pass


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ArtifactStore:
        return cls(data_dir / "artifacts" / "inference")

    def put_text(self, kind: str, text: str) -> str:
        data = text.encode("utf-8")
        artifact_id = f"{kind}-{hashlib.sha256(data).hexdigest()}"
        if not ID_PATTERN.match(artifact_id):
            raise ValueError(f"unknown artifact kind {kind!r}")
        path = self._path(artifact_id)
        if not path.exists():
            _atomic_write(path, data)
        return artifact_id

    def put_json(self, kind: str, value: Any) -> str:
        return self.put_text(kind, json.dumps(value, sort_keys=True, ensure_ascii=False))

    def get_text(self, artifact_id: str) -> str:
        if not ID_PATTERN.match(artifact_id):
            raise ArtifactNotFound(f"not an artifact id: {artifact_id!r}")
        try:
            return self._path(artifact_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ArtifactNotFound(f"no artifact {artifact_id} under {self.root}") from None

    def get_json(self, artifact_id: str) -> Any:
        return json.loads(self.get_text(artifact_id))

    def _path(self, artifact_id: str) -> Path:
        kind, digest = artifact_id.split("-", 1)
        return self.root / kind / digest[:2] / f"{digest}.txt"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
