"""/codec/encode and /codec/decode: Temporal's remote codec protocol, for the Temporal web
UI and the `temporal` CLI (`--codec-endpoint http://<api>/codec`).

Each takes `{"payloads": [...]}` (Payloads in protobuf JSON: metadata values and data in
base64) and answers the same shape, encrypted or decrypted with the codec every process
uses (agency/codec). The `X-Namespace` header the UI and CLI send is accepted and not
needed: the keys are the deployment's, whatever the namespace.

Who may call them: operator and admin keys (api/codec_auth.py: as a header, or as the
cookie /codec/login sets for the web UI). A decoded payload is any task's content, of
any tenant: a codec sees payloads, not whose they are, so it cannot keep tenants apart
the way the task API does; and encoding lets a caller forge payloads the workers would
accept. Both are an operator's tools, not a viewer's.

When no codec key is configured, both answer 404 (the codec is off).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from temporalio.api.common.v1 import Payloads

from agency.codec import CodecError, EncryptionCodec
from api.auth import Principal
from api.codec_auth import require_codec_user
from api.deps import StateDep
from api.problems import FieldProblem, Problem, ProblemError, invalid

router = APIRouter(prefix="/codec", tags=["codec"])

# An operator or admin key, as a header or the cookie /codec/login sets for the web UI.
CodecUser = Annotated[Principal, Depends(require_codec_user)]

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A payload cannot be decrypted (its kid is named)"},
    404: {"model": Problem, "description": "The codec is off: no codec key is configured"},
}


# Bytes in protobuf JSON: base64, standard or URL-safe alphabet, padded or not (never
# one character more than a multiple of four: no byte is spelled that way).
Base64 = Annotated[
    str, StringConstraints(pattern=r"^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2,3})?={0,2}$")
]


class PayloadJson(BaseModel):
    """A Temporal Payload in protobuf JSON."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Base64] = Field(
        default_factory=dict, description="metadata values, base64 (e.g. `encoding`)"
    )
    data: Base64 = Field(default="", description="the payload's bytes, base64")


class PayloadsJson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payloads: list[PayloadJson] = Field(default_factory=list)


def _codec(state: StateDep) -> EncryptionCodec:
    if state.codec is None:
        raise ProblemError(
            404,
            "codec-off",
            "The payload codec is off",
            "no codec key is configured (AGENCY_CODEC_KEYS or AGENCY_CODEC_KEYS_FILE): "
            "payloads are not encrypted, there is nothing to encode or decode",
        )
    return state.codec


def _parse(body: PayloadsJson) -> Payloads:
    try:
        return json_format.ParseDict(body.model_dump(), Payloads())
    except json_format.ParseError as err:
        raise invalid(
            [FieldProblem(path="payloads", message=f"not protobuf JSON payloads: {err}")]
        ) from None


def _answer(payloads: list[Any]) -> JSONResponse:
    return JSONResponse(json_format.MessageToDict(Payloads(payloads=payloads)) or {"payloads": []})


@router.post("/encode", response_model=PayloadsJson, responses=RESPONSES)
async def encode(state: StateDep, principal: CodecUser, body: PayloadsJson) -> JSONResponse:
    """Encrypt payloads with the current codec key."""
    codec = _codec(state)
    return _answer(await codec.encode(list(_parse(body).payloads)))


@router.post("/decode", response_model=PayloadsJson, responses=RESPONSES)
async def decode(state: StateDep, principal: CodecUser, body: PayloadsJson) -> JSONResponse:
    """Decrypt payloads (unencrypted ones come back as they are)."""
    codec = _codec(state)
    try:
        decoded = await codec.decode(list(_parse(body).payloads))
    except CodecError as err:
        raise ProblemError(
            400, "undecodable-payload", "A payload cannot be decrypted", str(err)
        ) from None
    return _answer(decoded)
