"""Endpoints that offer a running jar as a model: OpenAI- and Ollama-compatible HTTP.

Both serve one jar as one model named after ``metadata.name``; a request is one
conversation, run by the jar's own tool loop on the server::

    async with Jar.load("manifests/hello.yaml") as jar, anyio.create_task_group() as tg:
        url = await tg.start(openai_endpoint(HttpEndpointConfig(port=0)).serve, jar)
        # OpenAI(base_url=url, api_key="-").chat.completions.create(model=jar.name, ...)

The rules every client meets (tools, activity, limits) are in ``README.md`` here.
"""

from ._http import MAX_BODY_BYTES, RequestLog
from ._ollama import ollama_endpoint
from ._openai import openai_endpoint
from ._server import STOP_GRACE, HttpEndpoint

__all__ = [
    "MAX_BODY_BYTES",
    "STOP_GRACE",
    "HttpEndpoint",
    "RequestLog",
    "ollama_endpoint",
    "openai_endpoint",
]
