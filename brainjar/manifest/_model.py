"""The manifest's model section: the backend, its weights or URL, the process that serves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ._base import _resolve, _Strict
from ._duration import Duration

__all__ = [
    "ModelConfig",
    "ProcessConfig",
    "ReadyProbe",
]


class ReadyProbe(_Strict):
    """How brainjar knows the model process is ready."""

    http: str | None = Field(default=None, pattern=r"^/", description="path answered with 2xx")
    timeout: Duration = 120.0


class ProcessConfig(_Strict):
    """The process that serves the model; ``{port}`` is replaced by a free port."""

    command: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    cwd: Path | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    ready: ReadyProbe = ReadyProbe()
    restart: Literal["never", "on-failure", "always"] = "on-failure"
    max_restarts: int = Field(default=5, ge=0)
    stop_grace: Duration = 5.0

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)


class ModelConfig(_Strict):
    """The model: which backend speaks to it and, where needed, what serves it."""

    backend: Literal["llama-cpp", "ollama", "openai"]
    weights: str | None = Field(
        default=None, description="llama-cpp: packaged weights by name or a path to a .gguf"
    )
    name: str | None = Field(default=None, description="ollama / openai: the served model's name")
    endpoint: str | None = Field(default=None, pattern=r"^https?://")
    api_key: str | None = None
    process: ProcessConfig | None = None
    system: str | None = None
    parameters: dict[str, Any] = {}
    context_size: int = Field(default=2048, ge=256, description="llama-cpp: n_ctx")
    tool_calls: Literal["constrained", "native", "prompt"] | None = Field(
        default=None,
        description="how the model calls tools (default: constrained for llama-cpp, native "
        "for ollama and openai). constrained: the tools are described in the system prompt "
        "and the reply is held to a JSON schema built from them (llama-cpp; ollama's format; "
        "openai's response_format json_schema); prompt: the same prompt without the schema; "
        "native: the server's own tool calling (llama-cpp: chatml-function-calling)",
    )
    timeout: Duration = 120.0

    @model_validator(mode="after")
    def _backend_needs(self) -> ModelConfig:
        if self.backend == "llama-cpp":
            if self.endpoint is not None or self.process is not None:
                raise ValueError(
                    "backend llama-cpp starts its own server: remove endpoint/process, "
                    "or use backend: openai with the server's endpoint"
                )
        elif self.name is None:
            raise ValueError(
                f"backend {self.backend} needs the served model's name, e.g. name: qwen2.5:0.5b"
            )
        if self.backend == "openai" and self.endpoint is None and self.process is None:
            raise ValueError(
                "backend openai needs an endpoint (e.g. endpoint: http://127.0.0.1:8000/v1) "
                "or a process that serves it"
            )
        return self

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value.endswith(".gguf"):
            return str(_resolve(value, info))
        return value
