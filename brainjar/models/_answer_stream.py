"""The answer's text, decoded from a JSON reply while it streams."""

from __future__ import annotations

import json

__all__ = ["AnswerStreamer"]


class AnswerStreamer:
    """Turns the streamed reply text into the answer's text, as it arrives.

    A reply ``{"answer": "..."}`` gives the string's characters as they are
    decoded; plain text (not starting with ``{``) passes through; a tool call
    gives nothing.
    """

    _PREFIX = '"answer"'

    def __init__(self) -> None:
        self.text = ""
        self._mode = ""  # "", "plain", "json-head", "string", "done"
        self._pos = 0  # where decoding of the answer string goes on in self.text
        self.emitted = ""

    def feed(self, piece: str) -> str:
        """Adds ``piece`` of the reply; returns the new answer text it completes."""
        self.text += piece
        if not self._mode:
            head = self.text.lstrip()
            if not head:
                return ""
            self._mode = "json-head" if head.startswith("{") else "plain"
        if self._mode == "plain":
            self.emitted += piece
            return piece
        if self._mode == "json-head":
            start = self._string_start()
            if start is None:
                return ""
            self._mode, self._pos = "string", start
        if self._mode == "string":
            out = self._decode()
            self.emitted += out
            return out
        return ""

    def _string_start(self) -> int | None:
        """Where the answer string's characters begin; None until that is known."""
        head = self.text.lstrip()[1:].lstrip()
        offset = len(self.text) - len(head)
        if not head:
            return None
        if not self._PREFIX.startswith(head[: len(self._PREFIX)]):
            self._mode = "done"  # a tool call, or another key: nothing to stream
            return None
        rest = head[len(self._PREFIX) :].lstrip()
        if not rest or (rest[0] == ":" and not rest[1:].lstrip()):
            return None
        if rest[0] != ":" or rest[1:].lstrip()[0] != '"':
            self._mode = "done"
            return None
        return offset + (len(head) - len(rest[1:].lstrip())) + 1

    def _decode(self) -> str:
        out: list[str] = []
        text, i = self.text, self._pos
        while i < len(text):
            char = text[i]
            if char == '"':
                self._mode = "done"
                i += 1
                break
            if char == "\\":
                size = 6 if text[i + 1 : i + 2] == "u" else 2
                if i + size > len(text):
                    break
                try:
                    out.append(json.loads(f'"{text[i : i + size]}"'))
                except ValueError:
                    out.append(text[i : i + size])
                i += size
                continue
            out.append(char)
            i += 1
        self._pos = i
        return "".join(out)
