"""Scripted models for tests, benchmarks and trying out manifests.

A real HTTP server on ``127.0.0.1`` that speaks the OpenAI Chat Completions and
Ollama ``/api/chat`` protocols and answers from a script::

    from brainjar.testing import ScriptedModelServer, call, reply

    async with ScriptedModelServer([call("add", {"a": 1, "b": 2}), reply("3")]) as server:
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="-")
        ...  # or ollama.AsyncClient(host=server.url)

Each conversation walks the script on its own: a request's step is the number
of assistant messages it already holds. ``python -m brainjar.testing
script.yaml --port 8080`` serves a script file.

``FunctionModel`` is the same script without HTTP: a ``ModelClient`` in the
test's own process, for logic that only needs a model to answer (keep the server
for what the OpenAI and Ollama wire layouts show)::

    from brainjar.testing import FunctionModel, call, reply

    model = FunctionModel([call("add", {"a": 1, "b": 2}), "3"])  # a str is reply(str)
    async with Jar(manifest, client=model, extra_sources=[StaticSource([add])]) as jar:
        assert (await jar.ask("1+2?")).text == "3"
    assert model.requests[1].tool_messages == ["3"]

It also takes a function ``(messages, request) -> step`` (sync or async) that
picks each turn's step, and records every ``FunctionRequest`` (messages, tools,
parameters) it is asked.
"""

from ._function import FunctionModel, FunctionRequest, ModelFunction
from ._script import (
    CallTools,
    Fail,
    Reply,
    ScriptedCall,
    ScriptedModel,
    ScriptedRequest,
    Step,
    call,
    calls,
    fail,
    reply,
)
from ._script_file import load_script
from ._server import ScriptedModelServer

__all__ = [
    "CallTools",
    "Fail",
    "FunctionModel",
    "FunctionRequest",
    "ModelFunction",
    "Reply",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedModelServer",
    "ScriptedRequest",
    "Step",
    "call",
    "calls",
    "fail",
    "load_script",
    "reply",
]
