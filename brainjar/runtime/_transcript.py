"""Conversations kept as JSONL, written as they happen so a crash loses nothing."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import IO, Any

import platformdirs

from brainjar._redact import redact

__all__ = ["Transcript", "default_transcript_dir"]


def default_transcript_dir(jar_name: str) -> Path:
    """Where transcripts go when the manifest does not say: the user's state dir."""
    return platformdirs.user_state_path("brainjar") / "transcripts" / jar_name


class Transcript:
    """One conversation's JSONL file; each ``write`` is one line, flushed at once."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Appends one record with a timestamp; a closed transcript ignores it."""
        if self._file is None:
            return
        # ASCII escapes, so text a client sent that UTF-8 cannot hold (a lone
        # surrogate such as "\ud800") is kept as written and never fails the write.
        line = json.dumps({"ts": round(time.time(), 3), **record}, ensure_ascii=True, default=str)
        self._file.write(redact(line) + "\n")  # no secret of the manifest or a command
        self._file.flush()

    def close(self) -> None:
        """Closes the file; later writes are ignored."""
        if self._file is not None:
            self._file.close()
            self._file = None
