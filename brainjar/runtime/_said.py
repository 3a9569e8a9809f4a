"""The answer's text as it streams: what every step of the loop said."""

from __future__ import annotations

__all__ = ["SEPARATOR", "Said"]

# Between the text of two steps in the answer: a blank line.
SEPARATOR = "\n\n"


class Said:
    """The answer's text: what every step said, steps separated by a blank line.

    A step counts once it says something other than whitespace; its leading
    whitespace is held back until then, so a step that says only whitespace
    adds nothing. What ``delta`` and ``end_step`` return is what streams, so
    the deltas of a conversation join to ``text``.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._step = ""  # this step's text, once it said something
        self._held = ""  # this step's leading whitespace

    @property
    def text(self) -> str:
        return SEPARATOR.join(self.parts)

    def start_step(self) -> None:
        self._step = self._held = ""

    def delta(self, text: str) -> str:
        """What to stream for a piece of this step's text."""
        if self._step:
            self._step += text
            return text
        held = self._held + text
        if not held.strip():
            self._held = held
            return ""
        self._held, self._step = "", held
        return (SEPARATOR if self.parts else "") + held

    def end_step(self, content: str) -> str:
        """Closes the step; returns what to stream of ``content`` the client did not."""
        streamed = self._step or self._held
        rest = ""
        if content != streamed and content.startswith(streamed):
            rest = self.delta(content[len(streamed) :])
        if self._step:
            self.parts.append(self._step)
        self.start_step()
        return rest
