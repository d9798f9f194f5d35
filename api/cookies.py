"""The one policy for the cookies the API sets (the dashboard's session and its sign-in
nonce, the codec login): never readable by scripts, never sent from another site, and
only over TLS when the request came over TLS."""

from __future__ import annotations

from fastapi import Request, Response


def set_private_cookie(
    answer: Response, request: Request, name: str, value: str, *, max_age: int, path: str
) -> None:
    answer.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
