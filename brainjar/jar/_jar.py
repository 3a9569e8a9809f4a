"""A jar: a model, its tools and its loop, opened together.

async with Jar.load("manifests/hello.yaml") as jar:
    answer = await jar.ask("What is in notes.txt?")
    async with jar.events("And in todo.txt?") as events:
        async for event in events:
            ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import anyio

from brainjar._errors import BrainjarError, ManifestError
from brainjar.manifest._load import Origin, read_manifest
from brainjar.manifest._models import JarManifest
from brainjar.protocols import ModelClient, ToolSource
from brainjar.runtime._events import Answer, Event
from brainjar.runtime._loop import LoopSettings, run_conversation
from brainjar.runtime._messages import Message
from brainjar.runtime._transcript import Transcript, default_transcript_dir
from brainjar.tools._tool import Tool
from brainjar.tools._toolset import ToolSet

from ._model import ModelStatus, model_status
from ._sources import build_sources, filter_problems

__all__ = ["Jar"]

# Events waiting for a slow reader before the loop waits for it.
EVENT_BUFFER = 256


class Jar:
    """A running jar. Open it with ``async with``; then ``ask`` or ``events``.

    Args:
        manifest: what to run.
        base_dir: the manifest's folder, for relative paths.
        client: a model client to use instead of starting ``spec.model``.
        extra_sources: tool sources beyond the manifest's (e.g. made in Python).
        log: receives the model process's log lines; default: stderr.
        origin: where the manifest is written, for ``file:line:col`` in messages.
    """

    def __init__(
        self,
        manifest: JarManifest,
        *,
        base_dir: Path | None = None,
        client: ModelClient | None = None,
        extra_sources: Sequence[ToolSource] = (),
        log: Callable[[str], None] | None = None,
        origin: Origin | None = None,
    ) -> None:
        self.manifest = manifest
        self.origin = origin
        self.base_dir = base_dir or Path.cwd()
        self._given_client = client
        self._client: ModelClient | None = None
        self.log = log
        self._entry_sources = build_sources(manifest.spec.tools, base_dir=self.base_dir)
        self.toolset = ToolSet([*self._entry_sources, *extra_sources])
        self._stack: AsyncExitStack | None = None
        from brainjar.observe._observer import Observer

        self.observer = Observer(
            self.name,
            model=_model_name(manifest),
            metrics=manifest.spec.observe.metrics,
            process=self._process_state,
        )

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Jar:
        """Reads a manifest of kind Jar.

        Raises:
            ManifestError: the file is not a valid Jar manifest.
        """
        manifest, origin = read_manifest(path)
        if not isinstance(manifest, JarManifest):
            raise ManifestError(f"{path}: this is a {type(manifest).__name__}, not a Jar")
        return cls(manifest, base_dir=Path(path).parent.resolve(), origin=origin, **kwargs)

    @property
    def name(self) -> str:
        """The jar's name, from ``metadata.name``."""
        return self.manifest.metadata.name

    @property
    def client(self) -> ModelClient:
        """The model client; only while the jar is open."""
        if self._client is None:
            raise BrainjarError(f"jar {self.name} is not open: use 'async with jar:'")
        return self._client

    def model_status(self) -> ModelStatus:
        """Whether the model answers now: ready, starting, restarting, failed or stopped.

        ``failed`` means the supervisor gave up on the model process; a model
        server brainjar does not start is ready while the jar is open.
        """
        return model_status(self._client)

    def _process_state(self) -> tuple[str, int]:
        """The model process's state and restarts, for the metrics."""
        process = getattr(self._client, "process", None)
        return self.model_status().state, getattr(process, "restarts", 0)

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            if self._given_client is not None:
                self._client = self._given_client
            else:
                from ._model import start_model

                self._client = await start_model(
                    self.manifest.spec.model, stack=stack, base_dir=self.base_dir, log=self.log
                )
            await stack.enter_async_context(self.toolset)
            problems = self.tool_problems()
            if problems:
                # Closed first: raised inside the open set, it would come out wrapped
                # in the set's exception group.
                await stack.aclose()
                raise ManifestError(problems)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        self._client = None
        if stack is not None:
            # No shield here: the stack holds task groups that must exit in their own
            # scopes; the supervisor and the sources shield their own teardown.
            await stack.__aexit__(exc_type, exc, tb)

    def tool_problems(self) -> list[str]:
        """Filters that name tools their sources do not offer; call it while they are open.

        Opening the jar raises them as a ``ManifestError``; whoever opens only
        ``toolset`` should do the same once it is closed again.

        Returns:
            One ``file:line:col: message`` per such name, with a "did you mean".
        """
        return filter_problems(self.manifest.spec.tools, self._entry_sources, origin=self.origin)

    def tools(self) -> list[Tool]:
        """The tools the jar offers now."""
        return self.toolset.tools()

    def new_transcript(self) -> Transcript | None:
        """A new transcript file as ``spec.loop.transcripts`` says, or None."""
        folder = self.manifest.spec.loop.transcripts
        if folder is False:
            return None
        return Transcript(folder or default_transcript_dir(self.name))

    def settings(self, parameters: Mapping[str, Any] | None = None) -> LoopSettings:
        """The loop settings, with per-request model parameters over the manifest's."""
        loop = self.manifest.spec.loop
        return LoopSettings(
            max_steps=loop.max_steps,
            tool_timeout=loop.tool_timeout,
            max_result=loop.max_result,
            parallel_tool_calls=loop.parallel_tool_calls,
            tool_choice=loop.tool_choice,
            parameters={**self.manifest.spec.model.parameters, **(parameters or {})},
        )

    def conversation(self, prompt: str | Sequence[Message]) -> list[Message]:
        """The messages a conversation starts with: the system prompt, then ``prompt``."""
        given = [Message(role="user", content=prompt)] if isinstance(prompt, str) else list(prompt)
        system = self.manifest.spec.model.system
        return [Message(role="system", content=system), *given] if system else given

    @asynccontextmanager
    async def events(
        self,
        prompt: str | Sequence[Message],
        *,
        parameters: Mapping[str, Any] | None = None,
        transcript: Transcript | None = None,
        history: list[Message] | None = None,
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """Runs one conversation; yields its events as they happen.

        Leaving the block before the ``Answer`` cancels the conversation and its
        tool calls. A model failure is raised when the block ends.

        Args:
            prompt: the user's text, or the conversation so far.
            parameters: model parameters for this conversation only.
            transcript: where to write it; default: a new file per conversation.
            history: a list to run the conversation in (and keep it in), for chats;
                ``prompt`` is appended to it.
        """
        client = self.client
        if history is None:
            messages = self.conversation(prompt)
        else:
            given = [Message(role="user", content=prompt)] if isinstance(prompt, str) else prompt
            history.extend(given if history else self.conversation(prompt))
            messages = history
        own = transcript is None
        record = self.new_transcript() if own else transcript
        if record is not None:
            record.write(
                {"type": "start", "jar": self.name, "tools": [t.name for t in self.tools()]}
            )
        send, receive = anyio.create_memory_object_stream[Event](EVENT_BUFFER)

        async def produce() -> None:
            async with send:
                try:
                    with self.observer.conversation() as seen:
                        await run_conversation(
                            seen.client(client),
                            self.toolset.tools,
                            messages,
                            settings=self.settings(parameters),
                            emit=seen.emit(send.send),
                            transcript=record,
                            clashes=self.toolset.clashes,
                        )
                except anyio.get_cancelled_exc_class():
                    if record is not None:
                        record.write({"type": "cancelled"})
                    raise
                except Exception as exc:
                    if record is not None:
                        record.write({"type": "error", "error": str(exc)})
                    raise
                finally:
                    if own and record is not None:
                        record.close()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                async with receive:
                    yield receive
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _single(group) from None

    async def ask(
        self, prompt: str | Sequence[Message], *, parameters: Mapping[str, Any] | None = None
    ) -> Answer:
        """Runs one conversation to its end; ``str(answer)`` is the text."""
        answer: Answer | None = None
        async with self.events(prompt, parameters=parameters) as events:
            async for event in events:
                if isinstance(event, Answer):
                    answer = event
        assert answer is not None
        return answer


def _model_name(manifest: JarManifest) -> str:
    model = manifest.spec.model
    return model.name or (Path(model.weights).stem if model.weights else model.backend)


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one real error inside a task group's exception group."""
    while isinstance(group, BaseExceptionGroup) and len(group.exceptions) == 1:
        group = cast(BaseExceptionGroup[BaseException], group.exceptions[0])
    return group
