"""The payload codec's keys, from the settings: the kid that encrypts, every key that
decrypts.

Two sources, which may be combined:

- AGENCY_CODEC_KEYS: a JSON object `{"<kid>": "<base64 of 32 bytes>", ...}` (a secret in
  the settings, never printed);
- AGENCY_CODEC_KEYS_FILE: a file holding the same JSON object. It must be readable by its
  owner only (0600 or 0400): a key readable by others is not a secret any more.

AGENCY_CODEC_KEY_ID names the current key, the one that encrypts; with a single key it
may be left out. Rotation: add a new key, make it current, keep the old ones for as long
as histories encrypted with them are read. Errors never quote key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agency.settings import Settings

KEY_BYTES = 32  # AES-256
# A kid travels in every payload's metadata and in error messages: keep it plain.
KID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
OWNER_ONLY = 0o077  # permission bits that must be clear on the keys file


class CodecConfigError(ValueError):
    """The codec keys are configured wrongly (the message names the setting, no key)."""


@dataclass(frozen=True)
class CodecKeys:
    current: str
    # kid -> 32 bytes. Out of the repr: a logged or printed CodecKeys shows kids only.
    keys: Mapping[str, bytes] = field(repr=False)

    @property
    def kids(self) -> list[str]:
        return sorted(self.keys)


def load_codec_keys(settings: Settings) -> CodecKeys | None:
    """The configured keys; None when there are none (the codec is off)."""
    found: dict[str, bytes] = {}
    for kid, secret in settings.codec_keys.items():
        found[kid] = _key(kid, secret.get_secret_value(), "AGENCY_CODEC_KEYS")
    if settings.codec_keys_file is not None:
        for kid, key in _read_keys_file(settings.codec_keys_file).items():
            if kid in found and found[kid] != key:
                raise CodecConfigError(
                    f"codec key {kid!r} differs between AGENCY_CODEC_KEYS and "
                    f"AGENCY_CODEC_KEYS_FILE ({settings.codec_keys_file})"
                )
            found[kid] = key
    current = settings.codec_key_id
    if not found:
        if current:
            raise CodecConfigError(
                f"AGENCY_CODEC_KEY_ID is {current!r} but no codec key is configured "
                "(AGENCY_CODEC_KEYS or AGENCY_CODEC_KEYS_FILE)"
            )
        return None
    if current is None:
        if len(found) > 1:
            raise CodecConfigError(
                f"{len(found)} codec keys ({', '.join(sorted(found))}): set AGENCY_CODEC_KEY_ID "
                "to the one that encrypts"
            )
        (current,) = found
    elif current not in found:
        raise CodecConfigError(
            f"AGENCY_CODEC_KEY_ID {current!r} is not among the codec keys "
            f"({', '.join(sorted(found))})"
        )
    return CodecKeys(current=current, keys=found)


def _key(kid: str, encoded: str, source: str) -> bytes:
    if not KID_PATTERN.match(kid):
        raise CodecConfigError(
            f"{source}: key id {kid[:70]!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CodecConfigError(f"{source}: key {kid!r} is not base64") from None
    if len(key) != KEY_BYTES:
        raise CodecConfigError(
            f"{source}: key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} "
            "(make one with: openssl rand -base64 32)"
        )
    return key


def _read_keys_file(path: Path) -> dict[str, bytes]:
    source = f"AGENCY_CODEC_KEYS_FILE {path}"
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CodecConfigError(f"{source} does not exist") from None
    except OSError as err:
        raise CodecConfigError(f"{source} cannot be read: {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CodecConfigError(f"{source} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & OWNER_ONLY:
        raise CodecConfigError(
            f"{source} has mode {mode:04o}: it must be readable by its owner only "
            f"(chmod 600 {path})"
        )
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CodecConfigError(f"{source} cannot be read: {err.strerror}") from None
    except ValueError:
        # No detail: a JSON error message could quote the file's (secret) text.
        raise CodecConfigError(f"{source} is not a JSON object of kid to key") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CodecConfigError(f"{source} is not a JSON object of kid to base64 key")
    return {kid: _key(kid, encoded, source) for kid, encoded in value.items()}
