"""Where an executor finds the values of the secrets a task names.

A task names secrets (`agent.secrets: [GH_TOKEN]`); each executor host resolves them at
run time from its operator's sources, in this order:

1. its own environment variable `AGENCY_SECRET_<NAME>` (so `agency up` started with
   `AGENCY_SECRET_GH_TOKEN=…` gives agents `GH_TOKEN`);
2. a file named `<NAME>` in `AGENCY_SECRETS_DIR` (a mounted Kubernetes secret, say);
3. a line `NAME=value` in `AGENCY_SECRETS_FILE` (a `.env`-style file outside the repo).

Values go into the agent's environment only. Nothing here logs or returns them
anywhere else; a missing secret is reported by name and by where it was looked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_PREFIX = "AGENCY_SECRET_"


class MissingSecrets(LookupError):
    def __init__(self, names: list[str], looked_in: list[str]) -> None:
        self.names = names
        where = "; ".join(looked_in)
        super().__init__(
            f"secret(s) {', '.join(names)} not available on this executor (looked in: {where})"
        )


def resolve(
    names: list[str],
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path | None = None,
    secrets_file: Path | None = None,
) -> dict[str, str]:
    """The value of each named secret; MissingSecrets names those found nowhere."""
    env = os.environ if environ is None else environ
    from_file = _dotenv(secrets_file) if secrets_file is not None else {}
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        if f"{ENV_PREFIX}{name}" in env:
            found[name] = env[f"{ENV_PREFIX}{name}"]
        elif secrets_dir is not None and (secrets_dir / name).is_file():
            # A mounted secret file usually ends with a newline that is not the secret's.
            found[name] = (secrets_dir / name).read_text(encoding="utf-8").rstrip("\r\n")
        elif name in from_file:
            found[name] = from_file[name]
        else:
            missing.append(name)
    if missing:
        looked_in = [f"${ENV_PREFIX}<NAME>"]
        if secrets_dir is not None:
            looked_in.append(f"files in {secrets_dir}")
        if secrets_file is not None:
            looked_in.append(str(secrets_file))
        raise MissingSecrets(missing, looked_in)
    return found


def _dotenv(path: Path) -> dict[str, str]:
    """`NAME=value` lines; blank lines and `#` comments skipped; optional quotes removed."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name.strip()] = value
    return values
