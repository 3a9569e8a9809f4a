"""Tool calling measured on the Berkeley Function Calling Leaderboard (BFCL).

For each configuration and category (simple, multiple, parallel,
parallel_multiple, irrelevance) it asks a fixed, seeded sample of BFCL's
questions and scores the first model turn with BFCL's AST checker (a faithful
port in ``bench/bfcl_checker.py``; bfcl-eval's own imports every provider SDK).
Configurations:

- ``constrained`` / ``prompt`` / ``native``: brainjar's real model path,
  ``start_model`` with ``spec.model.tool_calls`` set so, and the client asked
  exactly as the loop asks it (streaming, ``tool_choice: auto``).
- ``baseline``: what a user has without brainjar: ``llama_cpp.server
  --chat_format chatml-function-calling`` asked by the plain ``openai`` SDK with
  ``tools`` and ``tool_choice: auto``.

It prints accuracy, the share of answers that are schema-valid tool calls, the
share that call no tool when one was due, median latency and tokens/s, and
writes every figure (and each question's verdict) to a JSON file.

The questions ship in bfcl-eval; install only its data (its dependencies are
heavy: every provider SDK, sentence-transformers, faiss)::

    pip install --no-deps bfcl-eval
    python bench/bench_toolcalls.py --limit 30          # 30 per category
    python bench/bench_toolcalls.py --all --configs constrained
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import random
import statistics
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bfcl_checker import ast_check

from brainjar._errors import BrainjarError
from brainjar.manifest._models import ModelConfig
from brainjar.runtime._messages import Message, ModelResponse, ToolSpec

CATEGORIES = {
    "simple": "simple_python",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance",
}
CONFIGS = ("constrained", "baseline")
# A 135M model on two shared cores: a few seconds a question; the baseline's
# argument generation ignores max_tokens and can run much longer.
REQUEST_TIMEOUT = 180.0
READY_TIMEOUT = 180.0
BFCL_NOTE = " Note that the provided function is in Python 3 syntax."
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


def _data_dir() -> Path:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "bench_toolcalls needs BFCL's questions, which ship in bfcl-eval; install only "
            "its data with: pip install --no-deps bfcl-eval"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Question:
    id: str
    category: str
    messages: list[dict[str, str]]
    functions: list[dict[str, Any]]
    answer: list[dict[str, Any]] | None
    tools: list[ToolSpec] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # tool name -> BFCL name


def _json_schema(node: Any) -> Any:
    """BFCL's parameter types (dict, float, tuple, any) as JSON Schema, as BFCL sends them."""
    if isinstance(node, list):
        return [_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items()}
    if isinstance(out.get("type"), str):
        out["type"] = _TYPES.get(out["type"], out["type"])
    return out


def load(category: str, *, limit: int | None, seed: int) -> list[Question]:
    """A seeded sample of ``limit`` questions of a category (all when None)."""
    data = _data_dir()
    name = CATEGORIES[category]
    questions = _lines(data / f"BFCL_v4_{name}.json")
    answers: dict[str, Any] = {}
    if category != "irrelevance":
        for item in _lines(data / "possible_answer" / f"BFCL_v4_{name}.json"):
            answers[item["id"]] = item["ground_truth"]
    if limit is not None and limit < len(questions):
        questions = random.Random(f"{seed}:{category}").sample(questions, limit)
    out = []
    for item in questions:
        q = Question(
            id=item["id"],
            category=category,
            messages=item["question"][0],
            functions=item["function"],
            answer=answers.get(item["id"]),
        )
        for function in item["function"]:
            tool_name = function["name"].replace(".", "_")  # as BFCL does for OpenAI-style APIs
            q.names[tool_name] = function["name"]
            q.tools.append(
                ToolSpec(
                    name=tool_name,
                    description=function.get("description", "") + BFCL_NOTE,
                    parameters=_json_schema(function["parameters"]),
                )
            )
        out.append(q)
    return out


@dataclass
class Outcome:
    calls: list[tuple[str, str]]  # (tool name, arguments text)
    seconds: float
    completion_tokens: int
    error: str | None = None


def score(q: Question, outcome: Outcome) -> dict[str, Any]:
    """BFCL's verdict plus brainjar's figures for one answer."""
    decoded: list[dict[str, Any]] = []
    valid = bool(outcome.calls)
    by_name = {t.name: t for t in q.tools}
    for name, arguments in outcome.calls:
        try:
            value = json.loads(arguments or "{}")
        except ValueError:
            valid = False
            continue
        tool = by_name.get(name)
        if tool is None or not isinstance(value, dict):
            valid = False
            continue
        try:
            jsonschema.validate(value, tool.parameters)
        except jsonschema.ValidationError:
            valid = False
        decoded.append({q.names.get(name, name): value})
    if q.category == "irrelevance":
        correct = not outcome.calls
    elif outcome.error is not None or len(decoded) != len(outcome.calls):
        correct = False
    else:
        assert q.answer is not None
        correct = bool(ast_check(q.functions, decoded, q.answer, CATEGORIES[q.category])["valid"])
    return {
        "id": q.id,
        "correct": correct,
        "valid_call": valid,
        "no_call": not outcome.calls,
        "calls": outcome.calls,
        "seconds": outcome.seconds,
        "completion_tokens": outcome.completion_tokens,
        "error": outcome.error,
    }


async def ask_brainjar(client: Any, q: Question, *, max_tokens: int) -> Outcome:
    """One turn through brainjar's model client, as the loop asks it."""
    messages = [Message(role=m["role"], content=m["content"]) for m in q.messages]  # type: ignore[arg-type]
    started = time.perf_counter()
    response: ModelResponse | None = None
    try:
        with anyio.fail_after(REQUEST_TIMEOUT):
            async for chunk in client.stream(
                messages,
                tools=q.tools,
                parameters={"temperature": 0, "max_tokens": max_tokens},
            ):
                if isinstance(chunk, ModelResponse):
                    response = chunk
    except (BrainjarError, TimeoutError) as exc:
        return Outcome([], time.perf_counter() - started, 0, error=str(exc)[:300])
    assert response is not None
    elapsed = time.perf_counter() - started
    calls = [(c.name, c.arguments) for c in response.message.tool_calls]
    tokens = response.usage.completion_tokens
    if not tokens:  # llama_cpp.server reports no usage when it streams: count the reply
        reply: Any = {"answer": response.message.content}
        if calls:
            reply = {"tool_calls": [{"name": n, "arguments": json.loads(a)} for n, a in calls]}
        tokens = _count_tokens(json.dumps(reply))
    return Outcome(calls, elapsed, tokens)


_VOCAB: list[Any] = []


def _count_tokens(text: str) -> int:
    """Tokens of ``text`` in the model's own vocabulary (loaded once, vocabulary only)."""
    return len(_VOCAB[0].tokenize(text.encode(), add_bos=False)) if _VOCAB else 0


def _load_vocab(weights: str) -> None:
    from llama_cpp import Llama

    from brainjar.models._llamacpp import resolve_weights

    path = resolve_weights(weights, base_dir=Path.cwd())
    _VOCAB[:] = [Llama(str(path), vocab_only=True, verbose=False)]


async def ask_baseline(client: Any, q: Question, *, max_tokens: int) -> Outcome:
    """One turn through the plain openai SDK, tool_choice auto, as a user would ask."""
    started = time.perf_counter()
    try:
        reply = await client.chat.completions.create(
            model="default",
            messages=q.messages,
            tools=[t.to_openai() for t in q.tools],
            tool_choice="auto",
            temperature=0,
            max_tokens=max_tokens,
        )
    except Exception as exc:  # the server's 400s and 500s are answers here
        return Outcome([], time.perf_counter() - started, 0, error=str(exc)[:300])
    message = reply.choices[0].message
    calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
    tokens = reply.usage.completion_tokens if reply.usage else 0
    return Outcome(calls, time.perf_counter() - started, tokens)


async def run_config(
    config: str, questions: dict[str, list[Question]], *, weights: str, max_tokens: int
) -> dict[str, list[dict[str, Any]]]:
    """Every question of every category against one configuration."""
    from brainjar.jar._model import start_model

    results: dict[str, list[dict[str, Any]]] = {}
    async with AsyncExitStack() as stack:
        if config == "baseline":
            import openai

            from brainjar.models._llamacpp import llamacpp_process_spec, resolve_weights
            from brainjar.process._supervisor import supervise

            path = resolve_weights(weights, base_dir=Path.cwd())
            spec = llamacpp_process_spec(path, ready_timeout=READY_TIMEOUT)
            process = await stack.enter_async_context(supervise(spec, log=_quiet))
            client: Any = openai.AsyncOpenAI(
                base_url=process.url + "/v1", api_key="-", timeout=REQUEST_TIMEOUT, max_retries=0
            )
            stack.push_async_callback(client.close)
            ask = ask_baseline
        else:
            model = ModelConfig(
                backend="llama-cpp", weights=weights, tool_calls=config, timeout=REQUEST_TIMEOUT
            )
            client = await start_model(model, stack=stack, base_dir=Path.cwd(), log=_quiet)
            ask = ask_brainjar
        for category, items in questions.items():
            results[category] = []
            for q in items:
                outcome = await ask(client, q, max_tokens=max_tokens)
                results[category].append(score(q, outcome))
                mark = "." if results[category][-1]["correct"] else "x"
                print(mark, end="", flush=True, file=sys.stderr)
            print(f" {config}/{category}", file=sys.stderr)
    return results


def _quiet(_line: str) -> None:
    """The model process's log is not shown."""


def summary(rows: list[dict[str, Any]], *, category: str) -> dict[str, Any]:
    """Accuracy and the other figures of one configuration and category."""
    n = len(rows)
    seconds = [r["seconds"] for r in rows]
    tokens = sum(r["completion_tokens"] for r in rows)
    return {
        "n": n,
        "accuracy": sum(r["correct"] for r in rows) / n,
        "valid_calls": sum(r["valid_call"] for r in rows) / n,
        "no_call_when_due": None
        if category == "irrelevance"
        else sum(r["no_call"] for r in rows) / n,
        "errors": sum(r["error"] is not None for r in rows),
        "median_seconds": statistics.median(seconds),
        "tokens_per_second": tokens / sum(seconds) if tokens and sum(seconds) else None,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def table(figures: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| configuration | category | n | accuracy | schema-valid calls | no call when due "
        "| median s | tokens/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for config, categories in figures.items():
        for category, f in categories.items():
            rate = f["tokens_per_second"]
            lines.append(
                f"| {config} | {category} | {f['n']} | {_pct(f['accuracy'])} "
                f"| {_pct(f['valid_calls'])} | {_pct(f['no_call_when_due'])} "
                f"| {f['median_seconds']:.1f} | {'—' if rate is None else f'{rate:.0f}'} |"
            )
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--limit", type=int, default=100, help="questions per category")
    parser.add_argument("--all", action="store_true", help="every question")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES))
    parser.add_argument(
        "--configs", nargs="+", default=list(CONFIGS),
        choices=["constrained", "prompt", "native", "baseline"],
    )  # fmt: skip
    parser.add_argument("--weights", default="smollm2-135m")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("bench_toolcalls.json"))
    args = parser.parse_args(argv)
    limit = None if args.all else args.limit
    questions = {c: load(c, limit=limit, seed=args.seed) for c in args.categories}
    _load_vocab(args.weights)
    results = {}
    for config in args.configs:
        results[config] = await run_config(
            config, questions, weights=args.weights, max_tokens=args.max_tokens
        )
    figures = {
        config: {c: summary(rows, category=c) for c, rows in by_category.items()}
        for config, by_category in results.items()
    }
    report = table(figures)
    print(report)
    args.out.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": f"{platform.machine()}, {platform.processor() or '?'}, "
                f"{len(__import__('os').sched_getaffinity(0))} cores",
                "command": " ".join(
                    ["python", "bench/bench_toolcalls.py", *(argv or sys.argv[1:])]
                ),
                "weights": args.weights,
                "seed": args.seed,
                "limit": limit,
                "figures": figures,
                "results": results,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    anyio.run(main)
