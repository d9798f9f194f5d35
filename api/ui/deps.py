"""Dependencies of the dashboard's routes: the signed-in user and checked forms.

`UserDep` resolves the session cookie (api.ui.session) to the key's principal, applies
the key's rate limit as an API request would, and sends a browser without a session to
the sign-in page. `FormDep` reads a POSTed form and refuses it (403) unless it carries
the session's CSRF token and, when the browser says where it comes from, comes from our
own pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import parse_qs

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection, Request

from api.auth import charge_key
from api.problems import ProblemError
from api.ui.render import SignInRequired
from api.ui.session import CSRF_FIELD, CSRF_HEADER, Sessions, UiSettings, UiUser, load_secret
from api.ui.session import same_origin as from_our_pages

MAX_FIELDS = 2000
Model = TypeVar("Model", bound=BaseModel)


def sessions_of(connection: HTTPConnection) -> Sessions:
    found = getattr(connection.app.state, "ui_sessions", None)
    if found is None:
        ui = UiSettings()
        settings = connection.app.state.agency.settings
        found = connection.app.state.ui_sessions = Sessions(
            load_secret(settings, ui), ttl_s=ui.session_ttl_s
        )
    return found


async def signed_in(connection: HTTPConnection) -> UiUser | None:
    """The session's user with the key's rate limit applied, or None."""
    user = await sessions_of(connection).user(connection)
    if user is None:
        return None
    principal = user.principal
    # A session is made from a key, so its principal always names one.
    await charge_key(connection, principal.key_id, principal.role)  # type: ignore[arg-type]
    return user


async def current_user(request: Request) -> UiUser:
    user = await signed_in(request)
    if user is None:
        raise SignInRequired
    request.state.ui_user = user
    return user


UserDep = Annotated[UiUser, Depends(current_user)]


@dataclass
class Form:
    values: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[-1] if found else default

    def all(self, name: str) -> list[str]:
        return list(self.values.get(name) or [])

    def has(self, name: str) -> bool:
        return name in self.values


def csrf_refused() -> ProblemError:
    return ProblemError(
        403,
        "csrf",
        "Request refused: not from this dashboard",
        "the form's CSRF token is missing or wrong, or the request came from another "
        "site; reload the page and try again",
    )


async def read_form(request: Request) -> Form:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise ProblemError(
            415, "unsupported-media-type", "Unsupported form encoding", f"got {kind}"
        )
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        values = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as err:
        raise ProblemError(413, "payload-too-large", "Too many form fields", str(err)) from None
    return Form(values)


async def checked_form(request: Request, user: UserDep) -> Form:
    form = await read_form(request)
    token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not from_our_pages(request) or not Sessions.same(token, user.csrf):
        raise csrf_refused()
    return form


FormDep = Annotated[Form, Depends(checked_form)]


def query_of(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A GET form's query string as `model`: fields left empty in the form are unset
    (api.query_models, which the API's list uses, takes them as given)."""

    async def dependency(request: Request) -> Model:
        values = {k: v for k, v in request.query_params.items() if v != ""}
        try:
            return model.model_validate(values)
        except ValidationError as err:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in err.errors()]
            raise RequestValidationError(errors) from None

    dependency.__name__ = f"ui_query_{model.__name__}"
    return dependency
