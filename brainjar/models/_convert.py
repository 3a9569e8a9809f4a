"""brainjar's messages on the wire of the OpenAI and Ollama chat APIs, and back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from brainjar.runtime._messages import Message, ToolSpec

__all__ = [
    "OPENAI_PARAMETERS",
    "llama_cpp_response_format",
    "new_call_id",
    "ollama_arguments",
    "ollama_format",
    "ollama_messages",
    "ollama_options",
    "openai_messages",
    "openai_tool_choice",
    "openai_tools",
]

# Generation parameters the OpenAI API takes by name; any other goes in the body as is.
OPENAI_PARAMETERS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "logit_bias",
        "response_format",
    }
)
# Ollama's request fields beside ``options``.
_OLLAMA_TOP_LEVEL = frozenset({"format", "keep_alive", "think"})
# brainjar's (OpenAI's) names for Ollama's options.
_OLLAMA_RENAMED = {"max_tokens": "num_predict", "max_completion_tokens": "num_predict"}


def new_call_id() -> str:
    """An id for a tool call whose server gave none."""
    return f"call_{uuid.uuid4().hex[:24]}"


def openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the Chat Completions layout, with the quirks servers trip on removed.

    An assistant message's ``content`` is always a string, never null (llama.cpp's
    server answers 500 to null); a tool message carries ``tool_call_id`` and no
    ``name`` (the API does not define one there).
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content or ""}
        if message.role == "assistant" and message.tool_calls:
            item["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments or "{}"},
                }
                for c in message.tool_calls
            ]
        if message.role == "tool":
            item["tool_call_id"] = message.tool_call_id or ""
        elif message.name is not None and message.role in ("user", "system"):
            item["name"] = message.name
        out.append(item)
    return out


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tools in the ``tools`` layout that OpenAI and Ollama share."""
    return [t.to_openai() for t in tools]


def openai_tool_choice(choice: Any) -> Any:
    """``auto``, ``none`` and ``required`` as they are; a tool's name as a named choice."""
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice


def ollama_arguments(text: str) -> dict[str, Any]:
    """A tool call's arguments as the object Ollama wants in the history.

    Text that is not a JSON object becomes ``{}``: Ollama (and its SDK) accept
    only objects, and the loop has already told the model, in the tool's
    result, that those arguments were malformed.
    """
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def ollama_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in the ``/api/chat`` layout: arguments as objects, tools by name."""
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content or ""}
        if message.role == "assistant" and message.tool_calls:
            item["tool_calls"] = [
                {"function": {"name": c.name, "arguments": ollama_arguments(c.arguments)}}
                for c in message.tool_calls
            ]
        if message.role == "tool" and message.name:
            item["tool_name"] = message.name
        out.append(item)
    return out


def _schema_of(response_format: Mapping[str, Any]) -> Any:
    """The JSON Schema of a ``json_schema`` response format, or None."""
    spec = response_format.get("json_schema")
    return spec.get("schema") if isinstance(spec, Mapping) else None


def llama_cpp_response_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's ``response_format`` as llama-cpp-python's server takes it.

    It knows ``text`` and ``json_object``, the latter with an optional ``schema``
    that it turns into a grammar; ``json_schema`` becomes that.
    """
    if response_format.get("type") != "json_schema":
        return dict(response_format)
    schema = _schema_of(response_format)
    return {"type": "json_object", **({"schema": schema} if schema is not None else {})}


def ollama_format(response_format: Mapping[str, Any]) -> str | dict[str, Any] | None:
    """OpenAI's ``response_format`` as Ollama's ``format``: ``"json"``, a schema, or None.

    llama-cpp-python's ``{"type": "json_object", "schema": S}`` (the shape
    ``ConstrainedClient`` asks in) is a schema too.
    """
    kind = response_format.get("type")
    if kind == "json_object":
        schema = response_format.get("schema")
        return dict(schema) if isinstance(schema, Mapping) else "json"
    if kind == "json_schema":
        schema = _schema_of(response_format)
        return dict(schema) if isinstance(schema, Mapping) else "json"
    return None


def ollama_options(parameters: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits ``parameters`` into Ollama's ``options`` and its other request fields.

    ``max_tokens`` becomes ``num_predict``; ``tool_choice`` is dropped (Ollama has
    none); ``response_format`` becomes ``format``; ``format``, ``keep_alive`` and
    ``think`` are request fields; everything else (temperature, top_p, top_k,
    seed, num_ctx, stop, ...) is an option.
    """
    options: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for key, value in parameters.items():
        if key == "tool_choice":
            continue
        if key == "response_format":
            if isinstance(value, Mapping) and (shape := ollama_format(value)) is not None:
                fields["format"] = shape
        elif key in _OLLAMA_TOP_LEVEL:
            fields[key] = value
        else:
            options[_OLLAMA_RENAMED.get(key, key)] = value
    return options, fields
