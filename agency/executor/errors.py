"""Errors the executor reports to its callers, each with its HTTP status (problem+json)."""

from __future__ import annotations


class ExecutorProblem(Exception):
    status: int = 500
    title: str = "Internal error"
    slug: str = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def type(self) -> str:
        return f"urn:agency:executor:{self.slug}"


class NotFound(ExecutorProblem):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ExecutorProblem):
    """The request is valid but not applicable to the run's current state."""

    status, title, slug = 409, "Conflict", "conflict"


class ApplyConflictProblem(Conflict):
    title, slug = "Apply conflict", "apply-conflict"


class Invalid(ExecutorProblem):
    status, title, slug = 422, "Invalid request", "invalid"


class Unavailable(ExecutorProblem):
    """This executor cannot run anything now (e.g. no sandbox); another one might."""

    status, title, slug = 503, "Executor unavailable", "unavailable"
