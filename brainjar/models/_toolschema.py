"""Tool calls as JSON a small model writes: the prompt, the schema, the parser.

A model that has no dependable tool-calling template of its own (SmolLM2,
Gemma 3 270M through llama.cpp) is told the tools and the reply format in its
system prompt, and its reply is held to a JSON schema (llama.cpp turns it into
a grammar) that allows exactly one of two shapes::

    {"tool_calls": [{"name": "<one offered tool>", "arguments": {...}}]}
    {"answer": "<text for the user>"}

Everything here is pure: no I/O, no model, so it is tested on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from brainjar.runtime._messages import Message, ToolCall, ToolSpec

from ._convert import new_call_id

__all__ = [
    "ANSWER_SCHEMA",
    "ParsedReply",
    "answer_now",
    "build_reply_schema",
    "history_messages",
    "parse_reply",
    "repeated_calls",
    "reply_schema",
    "reply_text",
    "tools_prompt",
]

# Keys that only inform people, or that llama.cpp's schema-to-grammar converter
# either ignores or turns into grammars too large for a small model's context.
_STRIPPED = frozenset({"description", "title", "format", "default", "examples", "$schema"})
_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
# How deep $refs are followed before a part of a schema is left unconstrained.
_MAX_REF_DEPTH = 8
# Distinct tool sets (times tool_choice) whose schemas are kept.
SCHEMA_CACHE_SIZE = 64


def _clean(node: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    """A copy of a JSON schema fit for a grammar: $refs inlined, prose and formats gone."""
    if isinstance(node, list):
        return [_clean(item, defs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
        if target is None or depth >= _MAX_REF_DEPTH:
            return {}
        return _clean(target, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _STRIPPED or key in ("$defs", "definitions"):
            continue
        if key == "type" and isinstance(value, str) and value not in _JSON_TYPES:
            continue  # e.g. BFCL's "dict" or "float" left unconverted: leave it open
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: _clean(v, defs, depth) for k, v in value.items()}
        else:
            out[key] = _clean(value, defs, depth)
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def arguments_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's parameter schema as the grammar holds it (see ``_clean``)."""
    defs = {**parameters.get("definitions", {}), **parameters.get("$defs", {})}
    cleaned = _clean(dict(parameters), defs)
    if not isinstance(cleaned, dict) or not cleaned:
        return {"type": "object"}
    if "type" not in cleaned and "properties" in cleaned:
        cleaned["type"] = "object"
        cleaned.setdefault("additionalProperties", False)
    if "properties" not in cleaned and cleaned.get("type") == "object":
        cleaned["properties"] = {}
        cleaned["additionalProperties"] = False
    return cleaned


def _call_schema(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": {"const": tool.name},
            "arguments": arguments_schema(tool.parameters),
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _tools_key(tools: Sequence[ToolSpec]) -> str:
    return json.dumps([[t.name, t.parameters] for t in tools], sort_keys=True, default=str)


def reply_schema(tools: Sequence[ToolSpec], *, choice: str = "auto") -> dict[str, Any]:
    """The JSON schema a reply is held to, given the offered tools and ``tool_choice``.

    ``auto``: an answer, or a list of exactly one call of an offered tool.
    ``required``: a call only. A tool's name: a call of that tool only.
    The same tool set and choice give the same (cached) object: do not change it.

    Raises:
        ValueError: ``choice`` names a tool that is not offered, or no tool is offered.
    """
    key = (_tools_key(tools), choice)
    found = _SCHEMAS.get(key)
    if found is None:
        found = build_reply_schema(tools, choice=choice)
        if len(_SCHEMAS) >= SCHEMA_CACHE_SIZE:
            _SCHEMAS.pop(next(iter(_SCHEMAS)))  # the oldest
        _SCHEMAS[key] = found
    return found


_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {}


def build_reply_schema(tools: Sequence[ToolSpec], *, choice: str = "auto") -> dict[str, Any]:
    """``reply_schema`` without the cache."""
    if not tools:
        raise ValueError("a reply schema needs at least one tool")
    if choice not in ("auto", "required"):
        tools = [t for t in tools if t.name == choice]
        if not tools:
            raise ValueError(f"tool_choice names {choice!r}, which is not an offered tool")
    items: dict[str, Any] = (
        _call_schema(tools[0]) if len(tools) == 1 else {"anyOf": [_call_schema(t) for t in tools]}
    )
    calls: dict[str, Any] = {
        "type": "object",
        "properties": {
            "tool_calls": {"type": "array", "items": items, "minItems": 1, "maxItems": 1}
        },
        "required": ["tool_calls"],
        "additionalProperties": False,
    }
    if choice != "auto":
        return calls
    return {"anyOf": [calls, ANSWER_SCHEMA]}


def _signature(tool: ToolSpec) -> str:
    """``name(arg: type, opt: type = default)``: a tool as a small model reads it best."""
    properties = tool.parameters.get("properties") or {}
    required = set(tool.parameters.get("required") or ())
    args = []
    for name, schema in properties.items():
        kind = schema.get("type", "any") if isinstance(schema, dict) else "any"
        text = f"{name}: {kind if isinstance(kind, str) else '|'.join(map(str, kind))}"
        if name not in required:
            default = schema.get("default") if isinstance(schema, dict) else None
            text += f" = {json.dumps(default, ensure_ascii=False)}"
        args.append(text)
    return f"{tool.name}({', '.join(args)})"


ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def answer_now(messages: Sequence[Message]) -> str:
    """What the model is told when it repeats a call: the results so far, and the question.

    A small model reads a request in the last user turn far better than a
    ``role: tool`` turn its training never showed it.
    """
    question = next((m.content for m in reversed(messages) if m.role == "user"), "")
    results = [tool_result_text(message) for message in messages[-8:] if message.role == "tool"]
    shown = "\n\n".join(results) or "(no results)"
    return f"{shown}\n\nDo not call a tool again. Answer my question from these results: {question}"


def repeated_calls(messages: Sequence[Message], calls: Sequence[ToolCall]) -> bool:
    """Whether every one of ``calls`` was made before, with the same arguments.

    Small models tend to repeat a call whose result they already have until
    ``max_steps`` runs out; such a reply adds nothing the model has not seen.
    """
    made = {
        (c.name, _canonical(c.arguments))
        for m in messages
        if m.role == "assistant"
        for c in m.tool_calls
    }
    return bool(calls) and all((c.name, _canonical(c.arguments)) in made for c in calls)


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except ValueError:
        return arguments


def tools_prompt(tools: Sequence[ToolSpec], *, choice: str = "auto") -> str:
    """The part of the system prompt that tells the model its tools and the reply format.

    Each tool is a signature (with defaults), its description, and its
    arguments' JSON Schema.
    """
    lines = ["You can call these tools:"]
    for tool in tools:
        lines.append(f"- {_signature(tool)}: {tool.description.strip()}")
        lines.append(f"  arguments: {json.dumps(tool.parameters, ensure_ascii=False)}")
    call = '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}'
    if choice == "auto":
        lines.append(
            f"To call a tool, reply with {call} and nothing else; you will get its result "
            'back. To answer the user, reply with {"answer": "<your answer>"}. '
            "Leave out arguments whose default is right."
        )
    elif choice == "required":
        lines.append(f"Call one of the tools now: reply with {call} and nothing else.")
    else:
        lines.append(f"Call the tool {choice} now: reply with {call} and nothing else.")
    return "\n".join(lines)


def history_messages(
    messages: Sequence[Message], tools: Sequence[ToolSpec], *, choice: str = "auto"
) -> list[Message]:
    """The conversation as the model sees it: tools in the system prompt, calls as JSON.

    The model's earlier turns are shown in the reply format it is held to, so
    it sees its own calls. A tool's result comes back as a user turn naming the
    tool: small models were not trained on ``role: tool`` turns, and in the
    hello manifest's questions they used a result far more often this way
    (llama.cpp's chatml-function-calling dropped such turns altogether).
    """
    prompt = tools_prompt(tools, choice=choice)
    question = next((m.content for m in reversed(messages) if m.role == "user"), "")
    out: list[Message] = []
    for index, message in enumerate(messages):
        if message.role == "assistant":
            out.append(Message(role="assistant", content=reply_text(message)))
        elif message.role == "tool":
            text = tool_result_text(message)
            if index == len(messages) - 1 and question:
                # The question again, after the result: a small model answers the
                # last thing it read, and otherwise forgets what it was asked.
                text += f"\n\nUse this result to answer my question: {question}"
            if out and out[-1].role == "user" and messages[index - 1].role == "tool":
                out[-1] = Message(role="user", content=f"{out[-1].content}\n\n{text}")
            else:
                out.append(Message(role="user", content=text))
        else:
            out.append(message)
    if out and out[0].role == "system":
        first = out[0]
        out[0] = Message(role="system", content=f"{first.content}\n\n{prompt}", name=first.name)
    else:
        out.insert(0, Message(role="system", content=prompt))
    return out


def tool_result_text(message: Message) -> str:
    """A tool's result as the model reads it: framed, named, and its text on one line.

    The reply is JSON, whose strings cannot hold a raw line break: a small model
    that copies a multi-line result into its answer stops at the first break
    (a listing of two files came back as the first file's name). Joined with
    ``"; "``, the whole result is there to copy.
    """
    lines = [line.strip() for line in message.content.splitlines() if line.strip()]
    return f"Tool result ({message.name or 'tool'}):\n{'; '.join(lines)}"


def reply_text(message: Message) -> str:
    """An assistant message in the JSON reply format, as the model would have written it."""
    if message.tool_calls:
        return json.dumps({"tool_calls": [_call_value(c) for c in message.tool_calls]})
    return json.dumps({"answer": message.content}, ensure_ascii=False)


def _call_value(call: ToolCall) -> dict[str, Any]:
    try:
        arguments: Any = call.parsed_arguments()
    except ValueError:
        arguments = call.arguments
    return {"name": call.name, "arguments": arguments}


class ParsedReply:
    """What a reply in the JSON format said: tool calls, or an answer."""

    def __init__(self, *, answer: str = "", tool_calls: tuple[ToolCall, ...] = ()) -> None:
        self.answer = answer
        self.tool_calls = tool_calls


def parse_reply(text: str) -> ParsedReply | None:
    """Reads a reply; None when it is not a whole JSON reply (cut off, or plain text).

    Text that does not start with ``{`` is a plain answer (the ``prompt`` mode,
    where nothing holds the model to the format).
    """
    stripped = text.strip()
    if not stripped.startswith("{"):
        return ParsedReply(answer=text.strip())
    try:
        value, _ = json.JSONDecoder().raw_decode(stripped)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    calls = value.get("tool_calls")
    if isinstance(calls, list) and calls:
        out = []
        for item in calls:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                return None
            arguments = item.get("arguments", {})
            text_args = arguments if isinstance(arguments, str) else json.dumps(arguments)
            out.append(ToolCall(id=new_call_id(), name=item["name"], arguments=text_args))
        return ParsedReply(tool_calls=tuple(out))
    answer = value.get("answer")
    if isinstance(answer, str):
        return ParsedReply(answer=answer)
    return ParsedReply(answer=stripped)
