"""Does a jar's model pick its tool by the question, or by the order the tools are listed?

Asks a jar's first model turn (its real model client: for a llama-cpp jar, the
constrained path) for questions that each want one known tool, once with the
tools in the manifest's order and once reversed, and prints which tool each
question got. A model that reads the question gets the same tool both ways; a
model that takes whichever tool comes first flips with the order.

    python bench/bench_tool_order.py                       # manifests/hello.yaml
    python bench/bench_tool_order.py --manifest my.yaml --question "Read a.txt" read_file ...

``--weights gemma3-270m`` (the ``gemma`` extra) asks Gemma 3 270M instead;
``--system TEXT`` replaces the manifest's system prompt (hello.yaml's names
``list_directory`` first, which is itself an order the model may follow).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import anyio

from brainjar import Jar, JarManifest, ToolSpec, load_manifest
from brainjar.runtime._messages import ModelResponse

HELLO = Path(__file__).resolve().parent.parent / "manifests" / "hello.yaml"
# hello.yaml's tools: five questions that name a file, five that ask for the listing.
QUESTIONS = [
    ("What does todo.txt say?", "read_file"),
    ("Read notes.txt to me.", "read_file"),
    ("What is written in todo.txt?", "read_file"),
    ("Show me the contents of notes.txt.", "read_file"),
    ("What's in the file todo.txt?", "read_file"),
    ("What is in the sandbox?", "list_directory"),
    ("Which files are there?", "list_directory"),
    ("List the files in the sandbox.", "list_directory"),
    ("What files do you have?", "list_directory"),
    ("Show me the folder.", "list_directory"),
]


async def first_turn(jar: Jar, question: str, tools: Sequence[ToolSpec]) -> str:
    """The tool the model's first turn calls (with its arguments), or ``answer``."""
    response: ModelResponse | None = None
    parameters = {**jar.settings().parameters, "tool_choice": "auto"}
    async for chunk in jar.client.stream(
        jar.conversation(question), tools=tools, parameters=parameters
    ):
        if isinstance(chunk, ModelResponse):
            response = chunk
    assert response is not None
    calls = response.message.tool_calls
    return f"{calls[0].name}({calls[0].arguments})" if calls else "answer"


def _quiet(_line: str) -> None:
    """The model process's log is not shown."""


async def main(
    path: Path, questions: list[tuple[str, str]], *, weights: str | None, system: str | None
) -> None:
    manifest = load_manifest(path)
    assert isinstance(manifest, JarManifest), f"{path} is not a Jar manifest"
    changes: dict[str, str] = {}
    if weights:
        changes["weights"] = weights
    if system is not None:
        changes["system"] = system
    model = manifest.spec.model.model_copy(update=changes)
    spec = manifest.spec.model_copy(update={"model": model})
    manifest = manifest.model_copy(update={"spec": spec})
    print(f"{path.name}, weights {model.weights}, system prompt {model.system!r}")
    async with Jar(manifest, base_dir=path.parent.resolve(), log=_quiet) as jar:
        tools = [t.spec for t in jar.tools()]
        orders = {"as listed": tools, "reversed": tools[::-1]}
        wanted_tools = sorted({wanted for _, wanted in questions})
        right = {(label, tool): 0 for label in orders for tool in wanted_tools}
        for question, wanted in questions:
            print(f"{question}  (wants {wanted})")
            for label, offered in orders.items():
                got = await first_turn(jar, question, offered)
                right[label, wanted] += got.startswith(f"{wanted}(")
                print(f"   {label:10s} [{', '.join(t.name for t in offered)}]: {got}")
    for label in orders:
        counts = [
            f"{tool} {right[label, tool]}/{sum(w == tool for _, w in questions)}"
            for tool in wanted_tools
        ]
        print(f"right tool, {label}: {', '.join(counts)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--manifest", type=Path, default=HELLO)
    parser.add_argument("--weights", help="packaged weights or a .gguf, in place of the manifest's")
    parser.add_argument("--system", help="a system prompt in place of the manifest's")
    parser.add_argument(
        "--question",
        nargs=2,
        action="append",
        metavar=("TEXT", "TOOL"),
        help="a question and the tool it wants (repeat; default: hello.yaml's ten)",
    )
    args = parser.parse_args()
    chosen = [(text, tool) for text, tool in args.question] if args.question else QUESTIONS
    try:
        anyio.run(partial(main, args.manifest, chosen, weights=args.weights, system=args.system))
    except KeyboardInterrupt:
        sys.exit(130)
