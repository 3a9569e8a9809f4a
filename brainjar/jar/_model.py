"""From ``spec.model`` to a running model and a client that talks to it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brainjar._errors import ModelError
from brainjar.manifest._models import ModelConfig, ProcessConfig
from brainjar.protocols import ModelClient
from brainjar.runtime._messages import Message, ModelResponse, ModelTextDelta, ToolSpec

if TYPE_CHECKING:
    from brainjar.process._supervisor import ProcessSpec, SupervisedProcess

__all__ = ["start_model"]


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
    from brainjar.process._supervisor import supervise

    endpoint = config.endpoint
    spec: ProcessSpec | None = None
    if config.backend == "llama-cpp":
        from brainjar.models._llamacpp import llamacpp_process_spec, resolve_weights

        weights = resolve_weights(config.weights or "smollm2-135m", base_dir=base_dir)
        spec = llamacpp_process_spec(weights, n_ctx=config.context_size)
    elif config.process is not None:
        spec = _process_spec(config.process, backend=config.backend)
    process: SupervisedProcess | None = None
    if spec is not None:
        process = await stack.enter_async_context(supervise(spec, log=log))
        base = process.url if config.backend == "ollama" else process.url + "/v1"
        endpoint = (endpoint or base).replace("{port}", str(process.port))
    client = _client(config, endpoint=endpoint or "")
    stack.push_async_callback(client.aclose)
    return client if process is None else _Supervised(client, process)


class _Supervised:
    """A client whose errors say what became of the model process behind it."""

    def __init__(self, inner: ModelClient, process: SupervisedProcess) -> None:
        self.inner = inner
        self.process = process

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        try:
            async for chunk in self.inner.stream(messages, tools=tools, parameters=parameters):
                yield chunk
        except ModelError as exc:
            state = self.process.state
            if state == "ready":
                raise
            tail = self.process.log_tail()[-8:]
            why = f": {self.process.failure}" if self.process.failure else ""
            raise ModelError(
                f"{exc}\nthe model process is {state} (restarts: {self.process.restarts}){why}"
                + (
                    "\nlast lines of its log:\n" + "\n".join("  | " + x for x in tail)
                    if tail and not why
                    else ""
                )
            ) from exc

    async def aclose(self) -> None:
        await self.inner.aclose()


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
