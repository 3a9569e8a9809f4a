"""What the ecosystem's own clients read from a jar: usage, stop reasons, text, formats.

Real third-party clients only: the openai SDKs (Python and npm), litellm,
langchain-ollama and the ollama library, against a jar over the scripted model.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import httpx
import ollama
import openai
import pytest
from endpoint_helpers import served

from brainjar.testing import ScriptedRequest, Step, call, calls, reply

HERE = Path(__file__).resolve().parent
# How long one real client may take for its requests (litellm imports slowly).
CLIENT_LIMIT = 60.0

# The model says something along with its tool call, then answers; each turn reports usage.
SAID_THEN_ANSWER: list[Step] = [
    calls(call("add", {"a": 2, "b": 3}), text="Let me add.", usage=(10, 4)),
    reply("The sum is 5.", usage=(20, 6)),
]
# The reply is the text of every step, separated by a blank line.
TEXT = "Let me add.\n\nThe sum is 5."
USER = [{"role": "user", "content": "2 + 3?"}]


async def test_openai_npm_sdk_reads_usage_whole_and_streamed(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (HERE.parent / "node_modules" / "openai").is_dir():
        pytest.skip("needs node and the openai npm package (npm ci --prefix tests)")
    async with served(tmp_path, SAID_THEN_ANSWER, repeat=True) as jar:
        with anyio.fail_after(CLIENT_LIMIT):
            done = await anyio.run_process([node, str(HERE / "openai_sdk_client.mjs"), jar.url])
    read = json.loads(done.stdout)
    usage = {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}
    assert read["whole"] == {"content": TEXT, "finish": "stop", "usage": usage}
    assert read["streamed"] == {"text": TEXT, "finish": "stop", "usage": usage, "choices": []}


# litellm's stream wrapper reads a pydantic attribute the way pydantic 2.11 deprecated.
@pytest.mark.filterwarnings("ignore:Accessing the 'model_(computed_)?fields' attribute")
async def test_litellm_reads_usage_and_the_same_text_whole_and_streamed(tmp_path: Path) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch at import
    litellm = pytest.importorskip("litellm")
    ask: dict[str, Any] = {"model": "openai/adder", "api_key": "-", "messages": USER}
    async with served(tmp_path, SAID_THEN_ANSWER, repeat=True) as jar:
        with anyio.fail_after(CLIENT_LIMIT):
            whole = await litellm.acompletion(api_base=jar.url, **ask)
            stream = await litellm.acompletion(
                api_base=jar.url, stream=True, stream_options={"include_usage": True}, **ask
            )
            chunks = [chunk async for chunk in stream]
    assert whole.choices[0].message.content == TEXT
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (30, 10)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT
    (usage,) = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (30, 10, 40)


async def test_langchain_ollama_reads_usage_metadata(tmp_path: Path) -> None:
    pytest.importorskip("langchain_ollama")
    from langchain_ollama import ChatOllama

    async with served(tmp_path, SAID_THEN_ANSWER, kind="ollama", repeat=True) as jar:
        llm = ChatOllama(model="adder", base_url=jar.url)
        try:
            with anyio.fail_after(CLIENT_LIMIT):
                message = await llm.ainvoke("2 + 3?")
                chunks = [chunk async for chunk in llm.astream("2 + 3?")]
        finally:
            await llm._async_client.close()  # ChatOllama never closes the client it made
    assert message.content == TEXT
    expected = {"input_tokens": 30, "output_tokens": 10, "total_tokens": 40}
    assert message.usage_metadata == expected
    assert message.response_metadata["eval_count"] == 10
    assert "".join(str(c.content) for c in chunks) == TEXT
    assert [c.usage_metadata for c in chunks if c.usage_metadata] == [expected]


async def test_the_ollama_final_line_has_the_counts_and_durations(tmp_path: Path) -> None:
    fields = ("prompt_eval_duration", "eval_duration", "load_duration", "total_duration")
    async with served(tmp_path, SAID_THEN_ANSWER, kind="ollama", repeat=True) as jar:
        client = ollama.AsyncClient(host=jar.url)
        try:
            with anyio.fail_after(CLIENT_LIMIT):
                parts = [p async for p in await client.chat("adder", messages=USER, stream=True)]
                whole = await client.generate("adder", prompt="2 + 3?", stream=False)
        finally:
            await client.close()
    for final in (parts[-1], whole):
        assert final.done and final.done_reason == "stop"
        assert (final.prompt_eval_count, final.eval_count) == (30, 10)
        assert all(isinstance(getattr(final, f), int) for f in fields)
    assert "".join(p.message.content or "" for p in parts) == TEXT
    assert whole.response == TEXT


async def test_a_cut_off_answer_is_length_in_both_apis(tmp_path: Path) -> None:
    script = [reply("The sum is", finish_reason="length")]
    async with served(tmp_path, script, repeat=True) as jar:
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
            done = await client.chat.completions.create(model="adder", messages=USER)
    assert done.choices[0].finish_reason == "length"
    assert done.model_extra is not None and done.model_extra["brainjar"]["stop_reason"] == "length"
    async with served(tmp_path, script, kind="ollama", repeat=True) as jar:
        client = ollama.AsyncClient(host=jar.url)
        try:
            parts = [p async for p in await client.chat("adder", messages=USER, stream=True)]
        finally:
            await client.close()
    assert parts[-1].done_reason == "length"


def _formatted(request: ScriptedRequest) -> Step:
    """Calls add, drafts a free answer, and answers in JSON when asked for a format."""
    if request.body.get("response_format"):
        return reply('{"sum": 5}')
    return call("add", {"a": 2, "b": 3}) if request.step == 0 else reply("The sum is 5.")


async def test_a_response_format_reaches_the_backend_for_the_final_answer(
    tmp_path: Path,
) -> None:
    schema = {"type": "object", "properties": {"sum": {"type": "integer"}}}
    shape = {"type": "json_schema", "json_schema": {"name": "sum", "schema": schema}}
    async with served(tmp_path, _formatted) as jar:
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
            done = await client.chat.completions.create(
                model="adder",
                messages=USER,
                response_format=shape,
            )
        assert done.choices[0].message.content == '{"sum": 5}'
        first, *_, last = jar.model.requests
        assert "response_format" not in first.body and first.tools
        assert last.body["response_format"] == shape and "tools" not in last.body
    formats: list[Any] = ["json", schema]
    async with served(tmp_path, _formatted, kind="ollama") as jar:
        client = ollama.AsyncClient(host=jar.url)
        try:
            for given in formats:
                answer = await client.chat("adder", messages=USER, format=given, stream=False)
                assert answer.message.content == '{"sum": 5}'
        finally:
            await client.close()
        sent = [
            r.body["response_format"] for r in jar.model.requests if "response_format" in r.body
        ]
    assert sent == [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    ]


async def test_formats_a_jar_cannot_honour_are_refused_with_400(tmp_path: Path) -> None:
    refused: list[Any] = [
        {"type": "yaml"},
        {"type": "json_schema", "json_schema": {"name": "x"}},
    ]
    async with served(tmp_path, repeat=True) as jar:
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
            for given in refused:
                with pytest.raises(openai.BadRequestError) as caught:
                    await client.chat.completions.create(
                        model="adder",
                        messages=USER,
                        response_format=given,
                    )
                assert caught.value.param == "response_format"
                assert "response_format" in caught.value.message
        assert jar.model.requests == []
    async with served(tmp_path, kind="ollama", repeat=True) as jar, httpx.AsyncClient() as http:
        body = {"model": "adder", "messages": USER, "format": "yaml", "stream": False}
        answered = await http.post(jar.url + "/api/chat", json=body)
        assert answered.status_code == 400
        assert 'send "json" or a JSON Schema object' in answered.json()["error"]
        assert jar.model.requests == []
