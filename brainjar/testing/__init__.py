"""A scripted model server for tests, benchmarks and trying out manifests.

A real HTTP server on ``127.0.0.1`` that speaks the OpenAI Chat Completions and
Ollama ``/api/chat`` protocols and answers from a script::

    from brainjar.testing import ScriptedModelServer, call, reply

    async with ScriptedModelServer([call("add", {"a": 1, "b": 2}), reply("3")]) as server:
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="-")
        ...  # or ollama.AsyncClient(host=server.url)

Each conversation walks the script on its own: a request's step is the number
of assistant messages it already holds. ``python -m brainjar.testing
script.yaml --port 8080`` serves a script file.
"""

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
