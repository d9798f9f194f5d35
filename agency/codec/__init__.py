"""Encrypted workflow payloads: an AES-256-GCM PayloadCodec, on when keys are configured.

`keys` reads the keys from the settings, `aesgcm` is the codec itself. Every process
gets it through agency.temporal_client.data_converter, so all of them agree.
"""

from agency.codec.aesgcm import ENCODING, KEY_ID_METADATA, CodecError, EncryptionCodec
from agency.codec.keys import CodecConfigError, CodecKeys, load_codec_keys
from agency.settings import Settings

__all__ = [
    "ENCODING",
    "KEY_ID_METADATA",
    "CodecConfigError",
    "CodecError",
    "CodecKeys",
    "EncryptionCodec",
    "load_codec_keys",
    "payload_codec",
]


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The codec for these settings; None when no key is configured (the codec is off).
    CodecConfigError when the keys are configured wrongly."""
    keys = load_codec_keys(settings)
    return EncryptionCodec(keys) if keys is not None else None
