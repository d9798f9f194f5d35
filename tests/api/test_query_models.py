"""Query models validated in one call: documented exactly as FastAPI documents a query
model, and answering bad parameters with every problem located under "query"."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Query

from api.problems import install_problem_handlers
from api.query_models import query_model, query_parameters
from api.routes.tasks import TaskFilters


def test_parameters_are_documented_as_fastapi_would() -> None:
    reference, ours = FastAPI(), FastAPI()

    @reference.get("/items")
    async def fastapi_way(filters: Annotated[TaskFilters, Query()]) -> dict[str, str]:
        return {}

    @ours.get("/items", openapi_extra={"parameters": query_parameters(TaskFilters)})
    async def our_way(
        filters: Annotated[TaskFilters, Depends(query_model(TaskFilters))],
    ) -> dict[str, str]:
        return {}

    def parameters(app: FastAPI) -> list[dict[str, object]]:
        return app.openapi()["paths"]["/items"]["get"]["parameters"]  # type: ignore[no-any-return]

    assert parameters(ours) == parameters(reference)
    assert [p["name"] for p in parameters(ours)] == list(TaskFilters.model_fields)


async def test_the_dependency_validates_the_query_string_in_one_call() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/items")
    async def items(
        filters: Annotated[TaskFilters, Depends(query_model(TaskFilters))],
    ) -> dict[str, object]:
        return filters.model_dump(mode="json", exclude_none=True)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        ok = await http.get("/items", params=[("limit", "7"), ("phase", "failed")])
        assert ok.json() == {"limit": 7, "phase": "failed"}
        # A repeated parameter counts once, with its last value.
        again = await http.get("/items?limit=3&limit=9")
        assert again.json()["limit"] == 9
        bad = await http.get("/items?limit=0&mode=party&created_before=soon")
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        paths = {e["path"] for e in bad.json()["errors"]}
        assert paths == {"limit", "mode", "created_before"}


def test_models_that_refer_to_other_models_are_refused() -> None:
    from pydantic import BaseModel

    class Inner(BaseModel):
        x: int

    class Outer(BaseModel):
        inner: Inner | None = None

    with pytest.raises(ValueError, match="must not refer"):
        query_parameters(Outer)
