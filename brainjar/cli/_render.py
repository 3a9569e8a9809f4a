"""How `brainjar run` shows a conversation in a terminal: the answer on stdout,
tool activity on stderr, so that `brainjar run m.yaml "q" > answer.txt` keeps
only the answer. Tool activity and JSON events are redacted (``brainjar._redact``):
a tool that prints a token or a value the manifest read from the environment
shows ``***``."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from brainjar._redact import redact
from brainjar.runtime._events import (
    Answer,
    Event,
    StepStarted,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
    ToolClash,
    event_to_dict,
)

__all__ = ["JsonRenderer", "TerminalRenderer"]

_PREVIEW = 160


def _preview(text: str) -> str:
    text = " ".join(redact(text).split())
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


class TerminalRenderer:
    """Streams answer text to stdout and shows tool calls on stderr as they happen."""

    def __init__(self, *, out: TextIO | None = None, err: Console | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or Console(stderr=True, highlight=False)
        self._mid_line = False
        self._streamed = False  # did this conversation's text arrive as deltas?

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.out.write(event.text)
            self.out.flush()
            self._mid_line = not event.text.endswith("\n")
            self._streamed = True
            return
        if isinstance(event, Answer) and event.text and not self._streamed:
            self.out.write(event.text)  # a server that did not stream
            self._mid_line = True
        self._end_line()
        if isinstance(event, ToolCallStarted):
            self.err.print(f"[cyan]→ {escape(event.name)}[/]({escape(_preview(event.arguments))})")
        elif isinstance(event, ToolCallFinished):
            self.err.print(
                f"[green]← {escape(event.name)}[/] [dim]{event.seconds:.2f}s[/] "
                f"{escape(_preview(event.content))}"
            )
        elif isinstance(event, ToolCallFailed):
            self.err.print(
                f"[red]✗ {escape(event.name)}[/] [dim]{event.kind}[/] "
                f"{escape(_preview(event.error))}"
            )
        elif isinstance(event, ToolClash):
            self.err.print(f"[yellow]! {escape(redact(str(event)))}[/]")
        elif isinstance(event, StepStarted):
            if event.step == 1:  # the answer holds the text of every step
                self._streamed = False
            if event.step > 1:
                self.err.print(f"[dim]· step {event.step}[/]")
        elif isinstance(event, Answer):
            if event.stop_reason == "max_steps":
                self.err.print(
                    f"[yellow]stopped after {event.steps} steps without a final answer "
                    f"(raise spec.loop.max_steps if the task needs more)[/]"
                )
            if event.stop_reason == "length":
                self.err.print(
                    "[yellow]the answer was cut off at the model's token limit "
                    "(raise max_tokens in spec.model.parameters)[/]"
                )
            if event.transcript:
                self.err.print(f"[dim]transcript: {escape(event.transcript)}[/]")

    def _end_line(self) -> None:
        if self._mid_line:
            self.out.write("\n")
            self.out.flush()
            self._mid_line = False


class JsonRenderer:
    """One JSON object per event per line on stdout."""

    def __init__(self, *, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def __call__(self, event: Event) -> None:
        self.out.write(redact(json.dumps(event_to_dict(event), ensure_ascii=False)) + "\n")
        self.out.flush()
