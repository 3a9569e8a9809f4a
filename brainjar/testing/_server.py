"""A real HTTP server on loopback that speaks the OpenAI and Ollama APIs from a script."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import anyio
from anyio.from_thread import start_blocking_portal
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from brainjar.http import serve_asgi

from ._script import (
    Fail,
    Reply,
    ScriptedModel,
    ScriptedRequest,
    ScriptExhausted,
    ScriptFunction,
    Step,
    WireProtocol,
    count_assistant_messages,
)
from ._wire import (
    ollama_chunks,
    ollama_error,
    ollama_response,
    openai_chunks,
    openai_completion,
    openai_error,
)

__all__ = ["ScriptedModelServer"]

# How long the server may take to start listening.
STARTUP_TIMEOUT = 10.0
# How long answers still in flight may run on when the server stops.
GRACEFUL_SHUTDOWN = 2.0
# Connections open at once: room for a benchmark's burst of connections.
MAX_CONNECTIONS = 4096
OLLAMA_VERSION = "0.12.0"


class ScriptedModelServer:
    """A scripted model on ``127.0.0.1``, speaking the OpenAI and Ollama chat APIs.

    ``async with ScriptedModelServer([reply("hi")]) as server:`` starts it on a
    free port; ``server.openai_base_url`` and ``server.url`` (Ollama's host) reach
    it. From synchronous code, ``with server.run_in_thread():`` runs it in a
    thread of its own. Enter and leave it in the same task: a pytest-asyncio
    fixture sets up and tears down in different tasks, so a fixture should use
    ``run_in_thread()`` (async clients reach that server just as well).

    Endpoints: ``POST /v1/chat/completions`` and ``GET /v1/models``; ``POST
    /api/chat``, ``GET /api/tags``, ``GET /api/version``, ``POST /api/show``.

    Args:
        model_or_script: a ``ScriptedModel``, or what makes one (a list of steps,
            or a function from the request to its step).
        host: the address to listen on.
        port: the port; 0 picks a free one.
        model_name: the model the server says it serves.

    Attributes:
        requests: every chat request received, in arrival order.
    """

    def __init__(
        self,
        model_or_script: ScriptedModel | Sequence[Step] | ScriptFunction,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model_name: str = "scripted",
    ) -> None:
        if isinstance(model_or_script, ScriptedModel):
            self.model = model_or_script
        else:
            self.model = ScriptedModel(model_or_script)
        self.host = host
        self.port = port
        self.model_name = model_name
        self.requests: list[ScriptedRequest] = []
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def url(self) -> str:
        """``http://host:port``: the Ollama host, and the root of both APIs."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``http://host:port/v1``: what the ``openai`` SDK takes as ``base_url``."""
        return self.url + "/v1"

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("the scripted model server is already running")
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(self._serving())
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._stack is not None, "the server was not started"
        stack, self._stack = self._stack, None
        await stack.__aexit__(exc_type, exc, tb)

    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(STARTUP_TIMEOUT):
                url = await tg.start(
                    partial(
                        serve_asgi,
                        _app(self),
                        host=self.host,
                        port=self.port,
                        what="the scripted model server",
                        grace=GRACEFUL_SHUTDOWN,
                        max_connections=MAX_CONNECTIONS,
                    )
                )
            self.port = urlsplit(url).port or self.port
            try:
                yield
            finally:
                # Cancelling is how serve_asgi stops: answers in flight get GRACEFUL_SHUTDOWN.
                tg.cancel_scope.cancel()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[ScriptedModelServer]:
        """Runs the server in a thread with its own event loop until the block ends."""
        with (
            start_blocking_portal(name="brainjar-scripted-model") as portal,
            portal.wrap_async_context_manager(self) as server,
        ):
            yield server

    async def _chat(self, request: Request, protocol: WireProtocol) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(protocol, 400, "scripted model: the request body is not a JSON object")
        scripted = ScriptedRequest(
            protocol=protocol,
            path=request.url.path,
            body=body,
            step=count_assistant_messages(body.get("messages") or []),
        )
        self.requests.append(scripted)
        try:
            step = self.model.step_for(scripted)
        except ScriptExhausted as exc:
            return _error(protocol, 500, str(exc))
        except Exception as exc:
            return _error(protocol, 500, f"scripted model: the script function raised {exc!r}")
        if step.delay > 0 and not await _pause(request, step.delay):
            return Response(status_code=499)  # the client is gone; nobody reads this
        if isinstance(step, Fail):
            return _error(protocol, step.status, step.message)
        name = self.model_name
        pace = step.pace if isinstance(step, Reply) else 0.0
        if protocol == "openai":
            if scripted.stream:
                return StreamingResponse(
                    _sse(openai_chunks(step, scripted, model=name), pace),
                    media_type="text/event-stream",
                )
            return JSONResponse(openai_completion(step, scripted, model=name))
        if scripted.stream:
            return StreamingResponse(
                _ndjson(ollama_chunks(step, scripted, model=name), pace),
                media_type="application/x-ndjson",
            )
        return JSONResponse(ollama_response(step, scripted, model=name))


def _error(protocol: WireProtocol, status: int, message: str) -> Response:
    body = openai_error(status, message) if protocol == "openai" else ollama_error(message)
    return JSONResponse(body, status_code=status)


async def _pause(request: Request, seconds: float) -> bool:
    """Waits ``seconds``; False as soon as the client disconnects."""
    gone = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal gone
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    gone = True
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(watch)
        await anyio.sleep(seconds)
        tg.cancel_scope.cancel()
    return not gone


async def _sse(chunks: Iterator[dict[str, Any]], pace: float) -> AsyncIterator[str]:
    async for chunk in _paced(chunks, pace):
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


async def _ndjson(chunks: Iterator[dict[str, Any]], pace: float) -> AsyncIterator[str]:
    async for chunk in _paced(chunks, pace):
        yield json.dumps(chunk, ensure_ascii=False) + "\n"


async def _paced(chunks: Iterator[dict[str, Any]], pace: float) -> AsyncIterator[dict[str, Any]]:
    """The chunks, ``pace`` seconds apart (a model generating as it goes)."""
    for i, chunk in enumerate(chunks):
        if pace > 0 and i:
            await anyio.sleep(pace)
        yield chunk


def _app(server: ScriptedModelServer) -> Starlette:
    name = server.model_name
    details = {
        "parent_model": "",
        "format": "gguf",
        "family": "scripted",
        "families": ["scripted"],
        "parameter_size": "0",
        "quantization_level": "none",
    }

    async def openai_chat(request: Request) -> Response:
        return await server._chat(request, "openai")

    async def ollama_chat(request: Request) -> Response:
        return await server._chat(request, "ollama")

    async def models(_: Request) -> Response:
        model = {"id": name, "object": "model", "created": 0, "owned_by": "brainjar"}
        return JSONResponse({"object": "list", "data": [model]})

    async def tags(_: Request) -> Response:
        model = {
            "name": name,
            "model": name,
            "modified_at": "2025-01-01T00:00:00Z",
            "size": 0,
            "digest": "0" * 64,
            "details": details,
        }
        return JSONResponse({"models": [model]})

    async def version(_: Request) -> Response:
        return JSONResponse({"version": OLLAMA_VERSION})

    async def show(_: Request) -> Response:
        return JSONResponse(
            {
                "modelfile": "",
                "parameters": "",
                "template": "",
                "details": details,
                "model_info": {},
                "capabilities": ["completion", "tools"],
                "modified_at": "2025-01-01T00:00:00Z",
            }
        )

    async def root(_: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/api/chat", ollama_chat, methods=["POST"]),
            Route("/api/tags", tags, methods=["GET"]),
            Route("/api/version", version, methods=["GET"]),
            Route("/api/show", show, methods=["POST"]),
            Route("/", root, methods=["GET", "HEAD"]),
        ]
    )
