"""How things read on the dashboard: phases, who a task waits for, times and durations.

Colour is never the only signal: every phase and verdict has a symbol and a word.
Timestamps are written in UTC in the page (`<time datetime=…>`); the page's script
shows them in the viewer's own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from domain.phases import PHASES, TERMINAL_PHASES

PHASE_SYMBOLS = {
    "queued": "○",
    "validating": "…",
    "plan_review": "⚖",
    "executing": "▶",
    "gating": "☑",
    "result_review": "⚖",
    "awaiting_approval": "⚑",
    "applying": "⇪",
    "recording": "✎",
    "completed": "✔",
    "failed": "✖",
    "rejected": "⊗",
    "canceled": "⊘",
}
VERDICT_SYMBOLS = {"pass": "✔", "fail": "✖", "uncertain": "?"}
OUTCOME_SYMBOLS = {"approve": "✔", "reject": "✖", "refine": "↻", "escalate": "⚑"}
ACTIVE_PHASES = tuple(p for p in PHASES if p not in TERMINAL_PHASES)


def phase_label(phase: str) -> str:
    return phase.replace("_", " ")


def phase_tone(phase: str, paused: bool = False) -> str:
    if paused and phase not in TERMINAL_PHASES:
        return "paused"
    if phase == "awaiting_approval":
        return "waiting"
    if phase == "completed":
        return "good"
    if phase in ("failed", "rejected"):
        return "bad"
    if phase == "canceled":
        return "neutral"
    return "running"


def phase_badge(phase: str, paused: bool = False) -> Markup:
    symbol = PHASE_SYMBOLS.get(phase, "•")
    label = phase_label(phase)
    if paused and phase not in TERMINAL_PHASES:
        symbol, label = "‖", f"{label} (paused)"
    return Markup(
        '<span class="badge tone-{tone}" data-phase="{phase}">'
        '<span aria-hidden="true">{symbol}</span> {label}</span>'
    ).format(tone=phase_tone(phase, paused), phase=phase, symbol=symbol, label=label)


def verdict_badge(verdict: str | None) -> Markup:
    if not verdict:
        return Markup("")
    tone = {"pass": "good", "fail": "bad", "uncertain": "waiting"}.get(verdict, "neutral")
    symbol = VERDICT_SYMBOLS.get(verdict, OUTCOME_SYMBOLS.get(verdict, "•"))
    if verdict in OUTCOME_SYMBOLS:
        tone = {"approve": "good", "reject": "bad"}.get(verdict, "waiting")
    return Markup(
        '<span class="badge tone-{tone}"><span aria-hidden="true">{symbol}</span> {verdict}</span>'
    ).format(tone=tone, symbol=symbol, verdict=verdict)


def waiting_for(phase: str, paused: bool = False, pending_action: str | None = None) -> str:
    """Who or what the task waits for now ("" when it has ended)."""
    if phase in TERMINAL_PHASES:
        return ""
    if paused:
        return "a human: resume"
    if phase == "awaiting_approval" or pending_action == "approve":
        return "a human: approve or reject"
    return {
        "queued": "a workflow worker",
        "validating": "a workflow worker (validation)",
        "plan_review": "the council (plan)",
        "executing": "an executor (agent)",
        "gating": "an executor (gates)",
        "result_review": "the council (result)",
        "applying": "an executor (apply)",
        "recording": "a workflow worker (provenance)",
    }.get(phase, "")


def needs_human(phase: str, paused: bool = False, pending_action: str | None = None) -> bool:
    return phase not in TERMINAL_PHASES and (
        paused or phase == "awaiting_approval" or pending_action == "approve"
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def timestamp(moment: datetime | None, relative: bool = False) -> Markup:
    """`<time>` in UTC; the page's script rewrites it in the viewer's zone."""
    if moment is None:
        return Markup("—")
    moment = _aware(moment).astimezone(UTC)
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    kind = "rel" if relative else "abs"
    if relative:
        text = ago(moment)
    return Markup('<time class="ts" data-ts="{kind}" datetime="{iso}">{text}</time>').format(
        kind=kind, iso=iso, text=text
    )


def running_since(moment: datetime) -> Markup:
    """How long since `moment`, kept current by the page's script."""
    moment = _aware(moment).astimezone(UTC)
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    seconds = (datetime.now(UTC) - moment).total_seconds()
    return Markup('<time class="ts" data-ts="since" datetime="{iso}">{text}</time>').format(
        iso=iso, text=duration(seconds) + " so far"
    )


def ago(moment: datetime, now: datetime | None = None) -> str:
    seconds = ((now or datetime.now(UTC)) - _aware(moment)).total_seconds()
    return duration(max(0.0, seconds)) + " ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def repo_of(spec: dict[str, Any] | None) -> str:
    return str((spec or {}).get("repo") or "")


def repo_name(repo: str) -> str:
    """A repository's last path segment (its name, usually), without `.git`."""
    tail = repo.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removesuffix(".git") or repo


def short(text: str, limit: int = 60) -> Markup:
    """`text` shortened in the middle, the whole of it for assistive technology."""
    if len(text) <= limit:
        return Markup(escape(text))
    head = text[: limit // 3]
    tail = text[-(limit - len(head) - 1) :]
    return Markup(
        '<span class="sr-only">{full}</span><span aria-hidden="true">{cut}</span>'
    ).format(full=text, cut=f"{head}…{tail}")
