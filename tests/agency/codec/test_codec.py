"""The AES-GCM payload codec with real keys: round trip, wrong and unknown keys, rotation,
unencrypted payloads passing through, and keys read from the settings."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure

from agency.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecConfigError,
    CodecError,
    CodecKeys,
    EncryptionCodec,
    load_codec_keys,
)
from agency.settings import Settings
from agency.temporal_client import data_converter

SECRET = b'{"title": "the plaintext marker 7f3a"}'


def new_key() -> bytes:
    return os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def codec(current: str, **keys: bytes) -> EncryptionCodec:
    return EncryptionCodec(CodecKeys(current=current, keys=keys))


async def test_a_payload_round_trips_and_is_sealed_with_the_current_kid() -> None:
    c = codec("k1", k1=new_key())
    (sealed,) = await c.encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert b"marker" not in sealed.data and b"json/plain" not in sealed.data
    (opened,) = await c.decode([sealed])
    assert opened == plain()


async def test_every_payload_gets_its_own_nonce() -> None:
    c = codec("k1", k1=new_key())
    one, two = await c.encode([plain(), plain()])
    assert one.data[:12] != two.data[:12] and one.data != two.data


async def test_the_wrong_key_under_the_same_kid_is_a_clear_error() -> None:
    (sealed,) = await codec("k1", k1=new_key()).encode([plain()])
    with pytest.raises(CodecError, match="'k1' does not decrypt"):
        await codec("k1", k1=new_key()).decode([sealed])


async def test_an_unknown_kid_is_an_error_naming_it_never_a_pass_through() -> None:
    (sealed,) = await codec("old", old=new_key()).encode([plain()])
    with pytest.raises(CodecError, match=r"codec key 'old', which is not configured \(.*new"):
        await codec("new", new=new_key()).decode([sealed])


async def test_an_altered_payload_does_not_decrypt() -> None:
    c = codec("k1", k1=new_key())
    (sealed,) = await c.encode([plain()])
    altered = bytearray(sealed.data)
    altered[20] ^= 1
    with pytest.raises(CodecError, match="altered"):
        await c.decode([Payload(metadata=sealed.metadata, data=bytes(altered))])
    with pytest.raises(CodecError, match="truncated"):
        await c.decode([Payload(metadata=sealed.metadata, data=sealed.data[:20])])


async def test_rotation_old_payloads_still_decrypt_new_ones_use_the_new_kid() -> None:
    first, second = new_key(), new_key()
    (old,) = await codec("2024", **{"2024": first}).encode([plain(b'"old"')])
    rotated = codec("2025", **{"2024": first, "2025": second})
    (new,) = await rotated.encode([plain(b'"new"')])
    assert new.metadata[KEY_ID_METADATA] == b"2025"
    assert await rotated.decode([old, new]) == [plain(b'"old"'), plain(b'"new"')]


async def test_unencrypted_payloads_pass_through_unchanged() -> None:
    c = codec("k1", k1=new_key())
    untouched = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await c.decode(untouched) == untouched


async def test_the_data_converter_encrypts_values_and_failures() -> None:
    settings = Settings(codec_keys={"k1": SecretStr(b64(new_key()))})
    converter = data_converter(settings)
    (payload,) = await converter.encode([{"title": "the plaintext marker 7f3a"}])
    assert payload.metadata["encoding"] == ENCODING and b"marker" not in payload.data
    assert await converter.decode([payload], [dict]) == [{"title": "the plaintext marker 7f3a"}]
    failure = Failure()
    try:
        raise RuntimeError("the plaintext marker 7f3a")
    except RuntimeError as err:
        await converter.encode_failure(err, failure)
    # Message and stack trace travel encrypted too ("Encoded failure" in the clear).
    assert "marker" not in str(failure) and failure.encoded_attributes.metadata["encoding"] == (
        ENCODING
    )
    decoded = await converter.decode_failure(failure)
    assert "the plaintext marker 7f3a" in str(decoded)


def test_no_keys_means_no_codec() -> None:
    assert load_codec_keys(Settings()) is None
    assert data_converter(Settings()).payload_codec is None


def test_keys_from_the_environment_and_the_current_kid(monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = new_key(), new_key()
    monkeypatch.setenv("AGENCY_CODEC_KEYS", json.dumps({"a": b64(one), "b": b64(two)}))
    monkeypatch.setenv("AGENCY_CODEC_KEY_ID", "b")
    settings = Settings()
    # The keys are secrets: neither the settings nor the keys print them.
    assert b64(one) not in repr(settings) and b64(one) not in str(settings.model_dump())
    keys = load_codec_keys(settings)
    assert keys is not None and keys.current == "b" and keys.keys == {"a": one, "b": two}
    assert b64(one) not in repr(keys) and repr(one) not in repr(keys)


def test_a_single_key_is_current_several_need_a_key_id() -> None:
    only = load_codec_keys(Settings(codec_keys={"k": SecretStr(b64(new_key()))}))
    assert only is not None and only.current == "k"
    two = {"a": SecretStr(b64(new_key())), "b": SecretStr(b64(new_key()))}
    with pytest.raises(CodecConfigError, match="set AGENCY_CODEC_KEY_ID"):
        load_codec_keys(Settings(codec_keys=two))
    with pytest.raises(CodecConfigError, match="'c' is not among the codec keys"):
        load_codec_keys(Settings(codec_keys=two, codec_key_id="c"))
    with pytest.raises(CodecConfigError, match="no codec key is configured"):
        load_codec_keys(Settings(codec_key_id="c"))


@pytest.mark.parametrize(
    ("kid", "value", "message"),
    [
        ("k", "not base64!", "not base64"),
        ("k", b64(b"short"), "5 bytes; AES-256 needs 32"),
        ("bad kid", b64(bytes(32)), "must be 1-64 letters"),
    ],
)
def test_malformed_keys_are_refused_without_quoting_them(
    kid: str, value: str, message: str
) -> None:
    with pytest.raises(CodecConfigError, match=message) as caught:
        load_codec_keys(Settings(codec_keys={kid: SecretStr(value)}))
    assert value not in str(caught.value)


def test_a_keys_file_owner_only_combined_with_the_environment(tmp_path: Path) -> None:
    one, two = new_key(), new_key()
    path = tmp_path / "codec-keys.json"
    path.write_text(json.dumps({"file": b64(two)}))
    path.chmod(0o644)
    settings = Settings(
        codec_keys={"env": SecretStr(b64(one))}, codec_keys_file=path, codec_key_id="file"
    )
    with pytest.raises(CodecConfigError, match=r"mode 0644: .*owner only \(chmod 600"):
        load_codec_keys(settings)
    path.chmod(0o600)
    keys = load_codec_keys(settings)
    assert keys is not None and keys.current == "file" and keys.keys == {"env": one, "file": two}
    # The same kid with other key material in the two places is a mistake, not a choice.
    path.write_text(json.dumps({"env": b64(two)}))
    with pytest.raises(CodecConfigError, match="'env' differs"):
        load_codec_keys(settings)


def test_a_missing_or_unreadable_keys_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(CodecConfigError, match=f"{missing} does not exist"):
        load_codec_keys(Settings(codec_keys_file=missing))
    garbled = tmp_path / "garbled.json"
    garbled.write_text('{"k": "c2VjcmV0' + "\n")
    garbled.chmod(0o600)
    with pytest.raises(CodecConfigError, match="not a JSON object") as caught:
        load_codec_keys(Settings(codec_keys_file=garbled))
    assert "c2VjcmV0" not in str(caught.value)
