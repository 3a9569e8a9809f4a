"""From ``spec.model`` to a running model and a client that talks to it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from brainjar._errors import ModelError, ProcessError
from brainjar.manifest._models import ModelConfig, ProcessConfig
from brainjar.protocols import ModelClient
from brainjar.runtime._messages import Message, ModelResponse, ModelTextDelta, ToolSpec

if TYPE_CHECKING:
    from brainjar.process._supervisor import ProcessSpec, SupervisedProcess

__all__ = [
    "EXIT_NOTICE",
    "ModelState",
    "ModelStatus",
    "model_status",
    "start_model",
    "tool_call_mode",
]

# After a request lost its connection, how long the supervisor has to notice that
# the model process exited (it checks every EXIT_POLL_INTERVAL, then reaps it).
EXIT_NOTICE = 3.0

# How many of the model process's last log lines an error shows.
LOG_LINES = 8

ModelState = Literal["ready", "starting", "restarting", "failed", "stopped"]


@dataclass(frozen=True, kw_only=True)
class ModelStatus:
    """Whether the jar's model can answer now, and if not, why.

    Attributes:
        state: ready; starting or restarting (its process is on its way); failed
            (the supervisor gave up on it) or stopped (it will not come back).
        reason: for people: what the process is doing, or why it is down.
    """

    state: ModelState
    reason: str

    @property
    def ready(self) -> bool:
        """True when the model takes requests."""
        return self.state == "ready"


def model_status(client: ModelClient | None) -> ModelStatus:
    """The status of the model behind ``client`` (None: the jar is closed).

    A model brainjar did not start (a server that already runs) counts as ready.
    """
    if client is None:
        return ModelStatus(state="stopped", reason="the jar is not open")
    if isinstance(client, _Supervised):
        return status_of(client.process)
    return ModelStatus(state="ready", reason="a model server brainjar does not supervise")


def status_of(process: SupervisedProcess) -> ModelStatus:
    """The model status a supervised process is in."""
    state = process.state
    restarts = f"restarts: {process.restarts}"
    if state == "ready":
        return ModelStatus(state=state, reason=f"pid {process.pid}, {restarts}")
    if state == "starting":
        return ModelStatus(state=state, reason=f"starting, probing {process.url}")
    if state == "restarting":
        code = process.last_exit
        why = "it did not get ready" if code is None else f"it exited with code {code}"
        return ModelStatus(
            state=state, reason=f"{why}; the supervisor starts it again ({restarts})"
        )
    if state == "failed" and process.failure is not None:
        return ModelStatus(state=state, reason=str(process.failure).split("\n", 1)[0])
    return ModelStatus(
        state=state, reason=f"it exited with code {process.last_exit} and is not restarted"
    )


async def start_model(
    config: ModelConfig,
    *,
    stack: AsyncExitStack,
    base_dir: Path,
    log: Callable[[str], None] | None = None,
) -> ModelClient:
    """Starts the model's process, if it has one, and returns its client.

    The process and the client are closed when ``stack`` closes.

    Raises:
        ProcessError: the process did not start or get ready.
        ManifestError: the weights cannot be found, or llama.cpp is not installed.
    """
    from brainjar._worker import worker_role
    from brainjar.process._supervisor import supervise

    endpoint = config.endpoint
    mode = tool_call_mode(config)
    role = worker_role()
    # A worker of `run --workers`: the parent runs the model process and says where.
    served = role.model if role is not None else None
    spec = None if served else model_process_spec(config, base_dir=base_dir)
    process: SupervisedProcess | None = None
    if spec is not None:
        process = await stack.enter_async_context(supervise(spec, log=log))
        endpoint = served_endpoint(config, process)
    elif served:
        endpoint = served
    client = _client(config, endpoint=endpoint or "")
    stack.push_async_callback(client.aclose)
    if mode != "native":
        from brainjar.models._constrained import ConstrainedClient

        if config.backend == "openai":
            from brainjar.models._structured import JsonSchemaClient

            # llama-cpp-python's json_object+schema becomes the standard json_schema.
            client = JsonSchemaClient(client)
        # The Ollama client turns the schema into Ollama's `format` itself.
        client = ConstrainedClient(client, mode=mode)
    return client if process is None else _Supervised(client, process, timeout=config.timeout)


def model_process_spec(config: ModelConfig, *, base_dir: Path) -> ProcessSpec | None:
    """The process that serves the model, when the manifest has brainjar run one.

    Raises:
        ManifestError: the weights cannot be found, or llama.cpp is not installed.
    """
    if config.backend == "llama-cpp":
        from brainjar.models._llamacpp import (
            chat_template_args,
            llamacpp_process_spec,
            resolve_weights,
        )

        weights = resolve_weights(config.weights or "smollm2-135m", base_dir=base_dir)
        native = tool_call_mode(config) == "native"
        return llamacpp_process_spec(
            weights,
            n_ctx=config.context_size,
            chat_format="chatml-function-calling" if native else None,
            extra_args=() if native else chat_template_args(weights),
        )
    if config.process is not None:
        return _process_spec(config.process, backend=config.backend)
    return None


def served_endpoint(config: ModelConfig, process: SupervisedProcess) -> str:
    """The URL the model's client uses once ``process`` serves it."""
    base = process.url if config.backend == "ollama" else process.url + "/v1"
    return (config.endpoint or base).replace("{port}", str(process.port))


class _Supervised:
    """A client that waits for the model process behind it, and says what became of it.

    A request that comes while the supervisor restarts the process waits until it
    is ready again, within the model's ``timeout``. A request whose connection is
    lost before anything came back is asked once more when the process went down
    meanwhile and comes back. Errors name the process's real state.
    """

    def __init__(self, inner: ModelClient, process: SupervisedProcess, *, timeout: float) -> None:
        self.inner = inner
        self.process = process
        self.timeout = timeout
        self.waiting = 0  # requests waiting for the process to be ready

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        await self._ready()
        restarts = self.process.restarts
        streamed = False
        try:
            async for chunk in self.inner.stream(messages, tools=tools, parameters=parameters):
                streamed = True
                yield chunk
            return
        except ModelError as exc:
            if streamed or not _connection_lost(exc) or not await self._went_down(restarts):
                raise self._explained(exc) from exc
            lost = exc
        await self._ready(after=lost)
        try:
            async for chunk in self.inner.stream(messages, tools=tools, parameters=parameters):
                yield chunk
        except ModelError as exc:
            raise self._explained(exc) from exc

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _ready(self, *, after: ModelError | None = None) -> None:
        """Waits for the process to be ready, within the model's timeout.

        Raises:
            ModelError: it did not get ready in time, or the supervisor gave up.
        """
        process = self.process
        if process.state == "ready":
            return
        self.waiting += 1
        try:
            with anyio.fail_after(self.timeout):
                await process.wait_ready()
        except TimeoutError:
            raise ModelError(
                (f"{after}\n" if after else "")
                + f"the model process was not ready again within spec.model.timeout "
                f"({self.timeout:g}s): {status_of(process).reason}; check its log, or raise "
                "spec.model.timeout if it is only slow to load"
            ) from after
        except ProcessError as exc:
            raise ModelError(
                (f"{after.summary}\n" if after else "")
                + f"the model process is {process.state}: {exc.summary}",
                log_tail=exc.log_tail[-LOG_LINES:],
            ) from after
        finally:
            self.waiting -= 1

    async def _went_down(self, restarts: int) -> bool:
        """Whether the process exited since the request began (waiting for the news).

        A lost connection is seen before the supervisor notices the exit, so the
        supervisor is given ``EXIT_NOTICE`` to say so.
        """
        process = self.process
        with anyio.move_on_after(EXIT_NOTICE):
            while process.state == "ready" and process.restarts == restarts:
                await process.wait_changed(process.version)
        return process.state != "ready" or process.restarts != restarts

    def _explained(self, exc: ModelError) -> ModelError:
        status = status_of(self.process)
        if status.state == "ready":
            if not _connection_lost(exc):
                return exc  # the server answered: its own words say what went wrong
            return ModelError(
                f"{exc}\nthe model process is still running ({status.reason}) but did not "
                "take the connection; check its log (brainjar run --verbose)"
            )
        return ModelError(
            f"{exc.summary}\nthe model process is {status.state}: {status.reason}",
            log_tail=self.process.log_tail()[-LOG_LINES:],
        )


def _connection_lost(exc: ModelError) -> bool:
    """Whether the request failed because the server could not be reached or hung up.

    Read from the errors of the clients' HTTP stacks: aiohttp (the OpenAI-compatible
    client) and httpx (the ollama SDK). A timeout is not a lost connection.
    """
    import aiohttp
    import httpx

    cause: BaseException | None = exc.__cause__
    while cause is not None:
        if isinstance(cause, TimeoutError | httpx.TimeoutException):
            return False
        if isinstance(
            cause, aiohttp.ClientConnectionError | httpx.TransportError | ConnectionError
        ):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def tool_call_mode(config: ModelConfig) -> Literal["constrained", "native", "prompt"]:
    """How the model calls tools: ``spec.model.tool_calls``, or the backend's default.

    The default is ``constrained`` for llama-cpp (brainjar owns that server and
    knows it holds a reply to a schema) and ``native`` for ollama and openai.
    """
    if config.tool_calls is not None:
        return config.tool_calls
    return "constrained" if config.backend == "llama-cpp" else "native"


def _client(config: ModelConfig, *, endpoint: str) -> ModelClient:
    if config.backend == "ollama":
        from brainjar.models._ollama import OllamaClient

        return OllamaClient(host=endpoint, model=config.name or "", timeout=config.timeout)
    from brainjar.models._openai import OpenAIClient

    return OpenAIClient(
        base_url=endpoint,
        model=config.name or config.weights or "default",
        api_key=config.api_key,
        timeout=config.timeout,
        dialect="llama-cpp" if config.backend == "llama-cpp" else "openai",
    )


def _process_spec(process: ProcessConfig, *, backend: str) -> ProcessSpec:
    from brainjar.process._supervisor import ProcessSpec

    return ProcessSpec(
        name="model",
        command=process.command,
        env=process.env,
        cwd=process.cwd,
        port=process.port,
        ready_http=process.ready.http,
        ready_timeout=process.ready.timeout,
        restart=process.restart,
        max_restarts=process.max_restarts,
        stop_grace=process.stop_grace,
    )
