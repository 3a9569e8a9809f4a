"""brainjar's exceptions.

Every error a user can cause or meet is a ``BrainjarError``; its message says
what went wrong, where, and what to do next. The tree::

    BrainjarError
     ├─ ManifestError      a manifest (or tool-service file) that cannot be used
     ├─ ModelError         the model server refused, failed or could not be reached
     ├─ ToolError          a tool failed; the loop turns it into a result the model sees
     │   ├─ BadArguments       the arguments do not match the tool's schema
     │   ├─ ToolTimeout        the call did not finish within its limit
     │   └─ ToolTooLarge       the arguments or the result are over their size limit
     ├─ TransportError     an endpoint or a remote tool transport failed
     ├─ DiscoveryError     mDNS/DNS-SD announce or browse failed, or a peer was refused
     └─ ProcessError       a supervised process did not start, got ready or stay up

Messages are redacted as they are made (``brainjar._redact``): a value read from
the environment by a manifest, a URL's password, the value after ``--api-key`` and
the like never reach a message. ``ModelError`` and ``ProcessError`` keep a
process's last log lines apart from what failed: ``summary`` is the message
without them, for clients over the network; ``str()`` has both, for the terminal.
"""

from __future__ import annotations

from ._redact import redact

__all__ = [
    "BadArguments",
    "BrainjarError",
    "DiscoveryError",
    "ManifestError",
    "ModelError",
    "ProcessError",
    "ToolError",
    "ToolTimeout",
    "ToolTooLarge",
    "TransportError",
]


class BrainjarError(Exception):
    """The base of every error brainjar raises on purpose; its message is redacted."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ManifestError(BrainjarError):
    """A manifest that cannot be used.

    Attributes:
        problems: one line per problem, each ``file:line:col: message``.
    """

    def __init__(self, problems: list[str] | str) -> None:
        problems = [problems] if isinstance(problems, str) else list(problems)
        self.problems = [redact(p) for p in problems]
        super().__init__("\n".join(self.problems))


class _WithLog(BrainjarError):
    """An error that may carry the last lines a process wrote.

    Attributes:
        summary: what failed, without the log: what a client over the network is told.
        log_tail: the last lines the process wrote, redacted.
    """

    def __init__(self, message: str, *, log_tail: list[str] | None = None) -> None:
        self.summary = redact(message)
        self.log_tail = [redact(line) for line in log_tail or []]
        if self.log_tail:
            message = (
                self.summary
                + "\nlast lines of its log:\n"
                + "\n".join("  | " + line for line in self.log_tail)
            )
        super().__init__(message)


class ModelError(_WithLog):
    """The model server refused a request, failed, or could not be reached.

    Attributes:
        summary: the message without the model process's log, for HTTP clients.
        log_tail: the model process's last lines, where they tell why (else empty).
    """


class ToolError(BrainjarError):
    """A tool failed. Raised by a tool's call; the loop shows it to the model.

    Attributes:
        kind: how it failed, for events and transcripts.
        code: the gRPC status name a tool service answers with.
        limit: the name of the limit that was hit, where one was.
    """

    kind = "error"
    code = "UNKNOWN"

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class BadArguments(ToolError):
    """The arguments of a call do not match the tool's schema (or are not an object)."""

    kind = "bad_arguments"
    code = "INVALID_ARGUMENT"


class ToolTimeout(ToolError):
    """A call did not finish within its time limit."""

    kind = "timeout"
    code = "DEADLINE_EXCEEDED"


class ToolTooLarge(ToolError):
    """A call's arguments or result are over the size limit."""

    kind = "too_large"
    code = "RESOURCE_EXHAUSTED"


class TransportError(BrainjarError):
    """An endpoint or a remote tool transport failed."""


class DiscoveryError(BrainjarError):
    """Announcing or browsing failed, or a discovered peer was refused."""


class ProcessError(_WithLog):
    """A supervised process did not start, become ready, or stay up.

    Attributes:
        summary: the message without the log, for HTTP clients.
        log_tail: the last lines the process wrote (redacted), for the message and
            for callers.
    """
