"""/api/v1/models: the inference models this API process knows, loading and hot swap.

Each process that runs inference (the API for chat, each worker for judges' assessments
and model agents) has its own engine; these routes act on the API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from agency.inference import (
    InferenceError,
    ModelInfo,
    ModelLoadError,
    ModelNotFound,
    SwapReport,
    UnknownModel,
)
from agency.inference.blas import blas_status
from api.deps import AdminDep, EngineDep, ViewerDep
from api.problems import Problem, ProblemError

router = APIRouter(prefix="/api/v1/models", tags=["models"])

ModelName = Annotated[str, Path(min_length=1, max_length=200, description="a model's name")]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No model of that name"},
    409: {"model": Problem, "description": "The model's files are not installed"},
    500: {"model": Problem, "description": "The model's files could not be loaded"},
}


class ModelList(BaseModel):
    current: str | None = Field(description="The model new requests get (None: not loaded)")
    default: str
    blas: str = Field(description="The BLAS library MLX uses on the CPU in this process")
    models: list[ModelInfo]


class SwapRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


def model_problem(err: InferenceError) -> ProblemError:
    if isinstance(err, UnknownModel):
        return ProblemError(404, "not-found", "Not found", str(err))
    if isinstance(err, ModelNotFound):
        return ProblemError(409, "model-not-installed", "Model not installed", str(err))
    if isinstance(err, ModelLoadError):
        return ProblemError(500, "model-load-failed", "Model could not be loaded", str(err))
    return ProblemError(500, "inference-failed", "Inference failed", str(err))


@router.get("", response_model=ModelList, summary="The models and which one is current")
async def list_models(engine: EngineDep, _: ViewerDep) -> ModelList:
    return ModelList(
        current=engine.current(),
        default=engine.catalog.default,
        blas=blas_status(),
        models=engine.models(),
    )


@router.post(
    "/{name}/load",
    response_model=ModelInfo,
    responses=ERRORS,
    summary="Load a model (it becomes current if none is)",
)
async def load_model(name: ModelName, engine: EngineDep, _: AdminDep) -> ModelInfo:
    try:
        return await engine.load(name)
    except InferenceError as err:
        raise model_problem(err) from err


@router.post(
    "/swap",
    response_model=SwapReport,
    responses=ERRORS,
    summary="Hot swap: new requests go to this model; running ones finish on the old one",
)
async def swap_model(body: SwapRequest, engine: EngineDep, _: AdminDep) -> SwapReport:
    try:
        return await engine.swap(body.name)
    except InferenceError as err:
        raise model_problem(err) from err
