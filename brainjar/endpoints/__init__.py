"""Endpoints that offer a running jar as a model: OpenAI- and Ollama-compatible HTTP.

Both serve one jar as one model named after ``metadata.name``; a request is one
conversation, run by the jar's own tool loop on the server::

    async with Jar.load("manifests/hello.yaml") as jar, anyio.create_task_group() as tg:
        url = await tg.start(openai_endpoint(HttpSettings(port=0)).serve, jar)
        # OpenAI(base_url=url, api_key="-").chat.completions.create(model=jar.name, ...)

Rules every client meets (``examples/openai-client/README.md`` shows them in use):

- One model, named ``metadata.name`` (Ollama: also ``<name>:latest``); another
  name is 404. A request is one conversation; nothing is kept between requests.
- Client-supplied ``tools`` are refused with 400: the jar runs its own tools and
  cannot return a tool call. ``tool_choice: "none"`` (OpenAI) or the header
  ``x-brainjar-client-tools: ignore`` has them ignored instead.
- Tool activity: OpenAI whole answers carry an extra ``brainjar`` field
  (steps, stop_reason, activity); OpenAI streams carry SSE comments
  ``: brainjar {...}`` (and, with ``x-brainjar-activity: chunks``, chunks with no
  choices and a ``brainjar`` field); Ollama streams carry empty-content lines
  with a ``brainjar`` field. The answer text streams as content deltas.
- The reply is the text of every step, steps separated by a blank line, in both
  APIs, streamed or whole. Usage is summed over the conversation's model calls
  (OpenAI ``usage``, with ``stream_options.include_usage`` a last chunk with no
  choices; Ollama's counts and durations on the last line); an answer cut off
  at its token limit is ``length``. ``response_format`` and Ollama's ``format``
  shape the final answer, or are refused with 400. The README's endpoint
  section lists what each API honours, ignores and refuses.
- Limits: ``max_concurrency`` running, ``max_queue`` waiting, then 429 with
  Retry-After; ``request_timeout`` (504, or an error event mid-stream); bearer
  ``token`` (401; health routes stay open); bodies over ``max_body`` are 413;
  more than ``max_messages`` messages, or JSON nested too deeply, is 400.
- Cross-site requests: a POST body must be sent as ``application/json`` (415
  otherwise); on a loopback address the ``Host`` must be a loopback name, and a
  request with an ``Origin`` must come from a loopback page or one of
  ``allowed_origins`` (403 otherwise; ``brainjar.http.Guard``). A
  client that disconnects cancels its conversation and tool calls. On
  cancellation an endpoint stops accepting and lets requests in flight finish
  within ``STOP_GRACE`` seconds.
- Runs on the asyncio backend (uvicorn).
"""

from ._http import MAX_BODY_BYTES, HttpSettings, RequestLog
from ._ollama import ollama_endpoint
from ._openai import openai_endpoint
from ._server import STOP_GRACE, HttpEndpoint

__all__ = [
    "MAX_BODY_BYTES",
    "STOP_GRACE",
    "HttpEndpoint",
    "HttpSettings",
    "RequestLog",
    "ollama_endpoint",
    "openai_endpoint",
]
