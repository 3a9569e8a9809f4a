"""What a background jar writes into its own record as it runs."""

from __future__ import annotations

from typing import Any

from ._store import state_dir, update_record

__all__ = ["JarReporter"]


class JarReporter:
    """What a background jar writes into its own record: its URLs and its phase."""

    def __init__(self, jar_id: str, *, endpoints: int) -> None:
        self.folder = state_dir()
        self.jar_id = jar_id
        self.expected = endpoints
        self.endpoints: list[dict[str, str]] = []

    def opened(self) -> None:
        """The jar is open; with no endpoint to wait for, it is ready."""
        if self.expected == 0:
            update_record(self.folder, self.jar_id, phase="ready")

    def listening(self, kind: str, url: str) -> None:
        """One endpoint listens; once all do, the jar is ready."""
        self.endpoints.append({"kind": kind, "url": url})
        ready = len(self.endpoints) >= self.expected
        changes: dict[str, Any] = {"endpoints": list(self.endpoints)}
        if ready:
            changes["phase"] = "ready"
        update_record(self.folder, self.jar_id, **changes)

    def stopping(self) -> None:
        """The jar got its stop signal and drains."""
        update_record(self.folder, self.jar_id, phase="stopping")
