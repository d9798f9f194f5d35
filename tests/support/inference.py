"""The inference engine for tests: one per process, the default model loaded once.

`shared_engine(Settings())` is the engine the API and the worker's activities get in
this process (same configuration), so the model loads once for the whole test session.
"""

from __future__ import annotations

import pytest

from agency.inference import ChatMessage, Engine
from agency.inference.shared import shared_engine
from agency.settings import Settings

QUESTION = "What is the capital of France? Answer in one word."


def question() -> list[ChatMessage]:
    return [ChatMessage(role="user", content=QUESTION)]


def short(text: str) -> list[ChatMessage]:
    """A prompt of a few tokens (our system line replaces the template's longer one)."""
    return [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content=text),
    ]


@pytest.fixture(scope="session")
async def engine() -> Engine:
    """The process's default engine with the default model loaded (once per session)."""
    shared = shared_engine(Settings())
    await shared.load()
    return shared
