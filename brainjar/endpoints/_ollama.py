"""The jar as an Ollama-compatible model: ``/api/chat``, ``/api/generate`` and friends.

Enough of the Ollama API for ``OLLAMA_HOST=127.0.0.1:PORT ollama run <jar>``,
the ``ollama`` library and Open WebUI: the heartbeat (``/``), ``/api/version``,
``/api/tags``, ``/api/ps``, ``/api/show``, and chat and generate, streamed as
NDJSON by default. The jar is one model, ``<name>`` or ``<name>:latest``.
Client-supplied ``tools`` are refused (400) unless the request header
``x-brainjar-client-tools: ignore`` asks to ignore them.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from brainjar.runtime._messages import Message

from ._conversation import ConversationResponse
from ._http import (
    CLIENT_TOOLS_HEADER,
    LOG_KEY,
    MAX_BODY_BYTES,
    EndpointState,
    HttpSettings,
    Problem,
    RequestLog,
    health_routes,
    read_model,
)
from ._ollama_wire import (
    ChatRequest,
    GenerateRequest,
    OllamaStream,
    ShowRequest,
    error_body,
    now,
    parameters_of,
    reply,
    to_messages,
)
from ._server import HttpEndpoint

__all__ = ["OLLAMA_VERSION", "OPEN_PATHS", "ollama_endpoint"]

# The Ollama server version reported: one whose API this endpoint follows.
OLLAMA_VERSION = "0.12.0"
# Served without the token: the heartbeat and the version, as Ollama's clients probe them.
OPEN_PATHS = frozenset({"/", "/api/version"})


def ollama_endpoint(
    config: HttpSettings,
    *,
    max_body: int = MAX_BODY_BYTES,
    log: RequestLog | None = None,
) -> HttpEndpoint:
    """The jar as an Ollama-compatible model; its URL is the ``OLLAMA_HOST``.

    Args:
        config: where it listens, its token and limits.
        max_body: the largest request body read, in bytes (larger: 413).
        log: receives one JSON-ready record per request.
    """
    return HttpEndpoint(
        config,
        kind="ollama",
        build=_app,
        max_body=max_body,
        log=log,
        errors=error_body,
        open_paths=OPEN_PATHS,
    )


def _app(state: EndpointState) -> ASGIApp:
    jar = state.jar
    tag = f"{jar.name}:latest"
    digest = hashlib.sha256(jar.name.encode()).hexdigest()
    modified = now()
    details = {
        "parent_model": "",
        "format": "brainjar",
        "family": "brainjar",
        "families": ["brainjar"],
        "parameter_size": "",
        "quantization_level": "",
    }

    def check_model(name: str | None) -> str:
        if name not in (jar.name, tag):
            raise Problem(
                404, f"model '{name}' not found: this server is the jar '{jar.name}'; use {tag}"
            )
        return name

    def card() -> dict[str, Any]:
        return {
            "name": tag,
            "model": tag,
            "modified_at": modified,
            "size": 0,
            "digest": digest,
            "details": details,
        }

    async def heartbeat(_: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def version(_: Request) -> Response:
        return JSONResponse({"version": OLLAMA_VERSION})

    async def tags(_: Request) -> Response:
        return JSONResponse({"models": [card()]})

    async def ps(_: Request) -> Response:
        running = {**card(), "expires_at": "0001-01-01T00:00:00Z", "size_vram": 0}
        return JSONResponse({"models": [running]})

    async def show(request: Request) -> Response:
        body = await read_model(
            request, ShowRequest, limit=state.max_body, max_messages=state.config.max_messages
        )
        check_model(body.model or body.name)
        tools = ", ".join(t.name for t in jar.tools()) or "none"
        return JSONResponse(
            {
                "license": "",
                "modelfile": f"# brainjar jar {jar.name}; its tools run on the server: {tools}\n",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": {"general.architecture": "brainjar", "brainjar.tools": tools},
                "capabilities": ["completion"],
                "modified_at": modified,
            }
        )

    def refuse_client_tools(request: Request, tools: list[dict[str, Any]] | None) -> None:
        if tools and request.headers.get(CLIENT_TOOLS_HEADER) != "ignore":
            raise Problem(
                400,
                f"the jar '{jar.name}' runs its own tools on the server and cannot return a "
                f"tool call to you: send no 'tools', or the header '{CLIENT_TOOLS_HEADER}: "
                "ignore' to have yours ignored",
            )

    def conversation(
        kind: Literal["chat", "generate"],
        model: str,
        messages: list[Message],
        *,
        stream: bool,
        options: Any,
        format: Any,
    ) -> ConversationResponse:
        parameters = parameters_of(options, format)
        if stream:
            return ConversationResponse(
                state,
                messages,
                parameters=parameters,
                errors=error_body,
                stream=OllamaStream(kind, model),
            )
        began = time.perf_counter()
        return ConversationResponse(
            state,
            messages,
            parameters=parameters,
            errors=error_body,
            whole=lambda answer, activity: reply(
                kind, model, answer, activity=activity, began=began
            ),
        )

    async def chat(request: Request) -> Response | ConversationResponse:
        body = await read_model(
            request, ChatRequest, limit=state.max_body, max_messages=state.config.max_messages
        )
        request.scope.get(LOG_KEY, {}).update(model=body.model)
        model = check_model(body.model)
        refuse_client_tools(request, body.tools)
        if not body.messages:
            return JSONResponse(reply("chat", model, None, began=time.perf_counter()))
        return conversation(
            "chat",
            model,
            to_messages(body),
            stream=body.stream,
            options=body.options,
            format=body.format,
        )

    async def generate(request: Request) -> Response | ConversationResponse:
        body = await read_model(
            request, GenerateRequest, limit=state.max_body, max_messages=state.config.max_messages
        )
        request.scope.get(LOG_KEY, {}).update(model=body.model)
        model = check_model(body.model)
        if not body.prompt:
            return JSONResponse(reply("generate", model, None, began=time.perf_counter()))
        messages = [Message(role="user", content=body.prompt)]
        if body.system:
            messages.insert(0, Message(role="system", content=body.system))
        return conversation(
            "generate",
            model,
            messages,
            stream=body.stream,
            options=body.options,
            format=body.format,
        )

    return Starlette(
        routes=[
            Route("/", heartbeat, methods=["GET", "HEAD"]),
            Route("/api/version", version, methods=["GET"]),
            Route("/api/tags", tags, methods=["GET"]),
            Route("/api/ps", ps, methods=["GET"]),
            Route("/api/show", show, methods=["POST"]),
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/generate", generate, methods=["POST"]),
            *health_routes(state),
        ],
        exception_handlers={Problem: _problem, HTTPException: _http_error},
    )


async def _problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    if exc.status_code == 404:
        message += "; a jar serves /api/chat, /api/generate, /api/tags, /api/show, /api/version"
    return await _problem(request, Problem(exc.status_code, message))
