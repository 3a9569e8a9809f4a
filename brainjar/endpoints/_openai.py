"""The jar as an OpenAI-compatible model: ``/v1/chat/completions`` and ``/v1/models``.

The jar is one model, named after ``metadata.name``. A request is one
conversation: the jar runs its own tool loop on the server and answers with the
final text. Client-supplied ``tools`` are refused (400) because the jar cannot
hand a tool call back to the client; ``tool_choice: "none"`` or the header
``x-brainjar-client-tools: ignore`` makes the jar ignore them instead.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

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
from ._openai_wire import ChatRequest, OpenAIStream, completion, error_body, to_messages
from ._server import HttpEndpoint

__all__ = ["CLIENT_TOOLS_HEADER", "openai_endpoint"]

# Sent by a client that wants tool activity as chunks too, not only as SSE comments.
ACTIVITY_HEADER = "x-brainjar-activity"


def openai_endpoint(
    config: HttpSettings,
    *,
    max_body: int = MAX_BODY_BYTES,
    log: RequestLog | None = None,
) -> HttpEndpoint:
    """The jar as an OpenAI-compatible model; its URL is the ``base_url`` (``.../v1``).

    Args:
        config: where it listens, its token and limits.
        max_body: the largest request body read, in bytes (larger: 413).
        log: receives one JSON-ready record per request.
    """
    return HttpEndpoint(
        config,
        kind="openai",
        build=_app,
        url_path="/v1",
        max_body=max_body,
        log=log,
        errors=error_body,
    )


def _app(state: EndpointState) -> ASGIApp:
    jar = state.jar

    def model_card() -> dict[str, Any]:
        return {"id": jar.name, "object": "model", "created": state.created, "owned_by": "brainjar"}

    def unknown_model(name: str) -> Problem:
        return Problem(
            404,
            f"The model '{name}' does not exist: this server is the jar '{jar.name}'; "
            f"use model='{jar.name}'",
            code="model_not_found",
            param="model",
        )

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [model_card()]})

    async def model(request: Request) -> Response:
        name = request.path_params["model"]
        if name != jar.name:
            raise unknown_model(name)
        return JSONResponse(model_card())

    async def chat(request: Request) -> Response | ConversationResponse:
        body = await read_model(
            request, ChatRequest, limit=state.max_body, max_messages=state.config.max_messages
        )
        request.scope.get(LOG_KEY, {}).update(model=body.model)
        if body.model != jar.name:
            raise unknown_model(body.model)
        if body.tools and not _ignore_client_tools(request, body):
            raise Problem(
                400,
                f"the jar '{jar.name}' runs its own tools on the server and cannot return a "
                "tool call to you: send no 'tools', set tool_choice to 'none', or send the "
                f"header '{CLIENT_TOOLS_HEADER}: ignore' to have yours ignored",
                code="client_tools_not_supported",
                param="tools",
            )
        parameters = body.parameters()
        if body.stream:
            chunks = request.headers.get(ACTIVITY_HEADER, "").lower() == "chunks"
            stream = OpenAIStream(
                jar.name, activity_chunks=chunks, include_usage=body.include_usage
            )
            return ConversationResponse(
                state,
                to_messages(body),
                parameters=parameters,
                errors=error_body,
                stream=stream,
            )
        return ConversationResponse(
            state,
            to_messages(body),
            parameters=parameters,
            errors=error_body,
            whole=lambda answer, activity: completion(jar.name, answer, activity),
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model:path}", model, methods=["GET"]),
            *health_routes(state),
        ],
        exception_handlers={
            Problem: _problem,
            HTTPException: _http_error,
        },
    )


def _ignore_client_tools(request: Request, body: ChatRequest) -> bool:
    return body.tool_choice == "none" or request.headers.get(CLIENT_TOOLS_HEADER) == "ignore"


async def _problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"{request.method} {request.url.path}: {exc.detail}"
    if exc.status_code == 404:
        message += "; this endpoint serves POST /v1/chat/completions and GET /v1/models"
    return await _problem(request, Problem(exc.status_code, message))
