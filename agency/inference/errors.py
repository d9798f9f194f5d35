"""Errors of the inference engine, each with a message a person can act on."""

from __future__ import annotations


class InferenceError(RuntimeError):
    """Base class: the engine could not do what was asked."""


class UnknownModel(InferenceError):
    """A model name the registry does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown model {name!r}; known models: {', '.join(known) or 'none'} "
            '(add one with AGENCY_MODELS=\'{"NAME": "/path/to/model.gguf or mlx-lm dir"}\')'
        )
        self.name = name


class ModelNotFound(InferenceError):
    """The model is known by name but its files are not on this machine."""


class ModelLoadError(InferenceError):
    """The model's files exist but could not be loaded."""


class PromptTooLong(InferenceError):
    """The prompt does not fit the model's context even after dropping old messages."""


class EngineClosed(InferenceError):
    """The engine was shut down; no new generation starts."""
