"""Records as compact JWS: what verifies, and every way a token is refused (with why)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from jwt.api_jws import PyJWS

from agency.provenance.canonical import canonical_json
from agency.provenance.file_keystore import FileKeystore
from agency.provenance.keystore import SigningKey, kid_for
from agency.provenance.signing import SignatureRejected, sign_record, verify_token

RECORD = {"task_id": "t-1", "outcome": "completed", "score": 0.85, "trail": [{"seq": 1}]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def store(tmp_path: Path) -> FileKeystore:
    store = FileKeystore(tmp_path / "keys")
    store.ensure_signing_key()
    return store


def rejected(token: str, store: FileKeystore) -> SignatureRejected:
    with pytest.raises(SignatureRejected) as caught:
        verify_token(token, store)
    return caught.value


def test_a_signed_record_verifies_with_its_kid(store: FileKeystore) -> None:
    token = sign_record(RECORD, store.signing_key())
    header = json.loads(unb64(token.split(".")[0]))
    assert header == {
        "alg": "EdDSA",
        "kid": store.signing_key().kid,
        "typ": "JOSE",
        "cty": "agency-provenance+json",
        "canon": "RFC8785",
    }
    verified = verify_token(token, store)
    assert verified.payload == RECORD and verified.key.status == "current"
    assert verified.form == "jcs"
    # The payload is exactly the canonical JSON of the record.
    assert unb64(token.split(".")[1]) == canonical_json(RECORD)


def test_one_changed_byte_in_the_payload_is_refused(store: FileKeystore) -> None:
    header, payload, signature = sign_record(RECORD, store.signing_key()).split(".")
    raw = bytearray(unb64(payload))
    raw[raw.index(b"c")] = ord("C")  # "completed" -> "Completed"
    err = rejected(f"{header}.{b64(bytes(raw))}.{signature}", store)
    assert err.code == "signature" and "does not verify" in str(err)


def test_one_changed_byte_in_the_signature_is_refused(store: FileKeystore) -> None:
    header, payload, signature = sign_record(RECORD, store.signing_key()).split(".")
    raw = bytearray(unb64(signature))
    raw[0] ^= 0x01
    err = rejected(f"{header}.{payload}.{b64(bytes(raw))}", store)
    assert err.code == "signature"


def test_alg_none_is_refused(store: FileKeystore) -> None:
    header = b64(json.dumps({"alg": "none", "kid": store.signing_key().kid}).encode())
    err = rejected(f"{header}.{b64(canonical_json(RECORD))}.", store)
    assert err.code == "algorithm" and "unsigned" in str(err)


def test_hs256_with_the_public_key_as_secret_is_refused(store: FileKeystore) -> None:
    kid = store.signing_key().kid
    info = store.public_key(kid)
    assert info is not None
    # The classic confusion: an HMAC "signed" with the verifier's public key.
    for secret in (info.pem().encode(), unb64(info.jwk()["x"])):
        header = b64(json.dumps({"alg": "HS256", "kid": kid}).encode())
        body = b64(canonical_json(RECORD))
        mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        err = rejected(f"{header}.{body}.{b64(mac)}", store)
        assert err.code == "algorithm" and "'HS256'" in str(err)


def test_an_unknown_kid_is_refused(store: FileKeystore) -> None:
    stranger = Ed25519PrivateKey.generate()
    token = sign_record(
        RECORD, SigningKey(kid=kid_for(stranger.public_key()), private_key=stranger)
    )
    err = rejected(token, store)
    assert err.code == "key_unknown" and err.check == "key" and "unknown kid" in str(err)


def test_a_token_naming_a_known_kid_but_signed_by_another_key_is_refused(
    store: FileKeystore,
) -> None:
    stranger = Ed25519PrivateKey.generate()
    token = sign_record(RECORD, SigningKey(kid=store.signing_key().kid, private_key=stranger))
    assert rejected(token, store).code == "signature"


def test_a_record_signed_by_a_revoked_key_is_refused(store: FileKeystore) -> None:
    key = store.signing_key()
    token = sign_record(RECORD, key)
    store.revoke(key.kid, "key leaked in a log")
    err = rejected(token, store)
    assert err.code == "key_revoked" and "key leaked in a log" in str(err)


def test_a_record_signed_by_a_retired_key_still_verifies(store: FileKeystore) -> None:
    old = store.signing_key()
    token = sign_record(RECORD, old)
    store.rotate()
    verified = verify_token(token, store)
    assert verified.key.kid == old.kid and verified.key.status == "retired"


def test_a_missing_kid_and_a_non_canonical_payload_are_refused(store: FileKeystore) -> None:
    key = store.signing_key()
    private = jwk.JWK.from_pyca(key.private_key)
    no_kid = jws.JWS(canonical_json(RECORD))
    no_kid.add_signature(private, alg="EdDSA", protected=json.dumps({"alg": "EdDSA"}))
    assert rejected(no_kid.serialize(compact=True), store).code == "kid"

    loose = jws.JWS(json.dumps(RECORD, indent=2).encode())
    loose.add_signature(
        private, alg="EdDSA", protected=json.dumps({"alg": "EdDSA", "kid": key.kid})
    )
    err = rejected(loose.serialize(compact=True), store)
    assert err.code == "malformed" and "canonical" in str(err)


def test_jwcrypto_verifies_our_records_and_we_verify_its(store: FileKeystore) -> None:
    key = store.signing_key()
    info = store.public_key(key.kid)
    assert info is not None
    public = jwk.JWK(**info.jwk())

    # Ours, checked by an independent JOSE implementation.
    token = sign_record(RECORD, key)
    theirs = jws.JWS()
    theirs.deserialize(token)
    theirs.verify(public, alg="EdDSA")
    assert json.loads(theirs.payload) == RECORD

    # A tampered one is refused by it too.
    header, _, signature = token.split(".")
    tampered = jws.JWS()
    tampered.deserialize(f"{header}.{b64(canonical_json({**RECORD, 'outcome': 'x'}))}.{signature}")
    with pytest.raises(JWException):
        tampered.verify(public, alg="EdDSA")

    # Its token, made with the same private key, verified by ours.
    made = jws.JWS(canonical_json(RECORD))
    made.add_signature(
        jwk.JWK.from_pyca(key.private_key),
        alg="EdDSA",
        protected=json.dumps({"alg": "EdDSA", "kid": key.kid}),
    )
    assert verify_token(made.serialize(compact=True), store).payload == RECORD


def legacy_token(payload: bytes, store: FileKeystore, **header: object) -> str:
    """A token as signed before RFC 8785 (no `canon` header), over `payload` as given."""
    key = store.signing_key()
    return PyJWS().encode(
        payload,
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid, "typ": "JOSE", "cty": "agency-provenance+json", **header},
    )


def test_a_record_signed_in_the_legacy_form_verifies_in_that_form(store: FileKeystore) -> None:
    record = {"score": 1.0, "confidence": 0.5, "title": "ü"}
    legacy = canonical_json(record, "legacy")
    assert legacy == '{"confidence":0.5,"score":1.0,"title":"ü"}'.encode()
    assert canonical_json(record) == '{"confidence":0.5,"score":1,"title":"ü"}'.encode()
    verified = verify_token(legacy_token(legacy, store), store)
    assert verified.form == "legacy" and verified.payload == record
    # The signed header says which form: JCS bytes claimed as legacy, and legacy bytes
    # claimed as JCS, are both refused as not canonical.
    err = rejected(legacy_token(canonical_json({**record, "tiny": 1e-7}), store), store)
    assert err.code == "malformed" and "legacy form" in str(err)
    err = rejected(legacy_token(legacy, store, canon="RFC8785"), store)
    assert err.code == "malformed" and "jcs form" in str(err)
    err = rejected(legacy_token(legacy, store, canon="c14n"), store)
    assert err.code == "malformed" and "unknown canonical form 'c14n'" in str(err)
