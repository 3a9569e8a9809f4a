"""The folders are the architecture: each part imports only the parts below it.

The map is drawn in ``brainjar/__init__.py``'s docstring. Imports under
``if TYPE_CHECKING:`` are annotations, not dependencies, and do not count;
imports inside functions (lazy ones) do.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASE = {"_redact", "_errors", "protocols", "_worker", "_net", "_aio"}
CORE = BASE | {"tools", "runtime"}
BELOW_JAR = CORE | {
    "process", "http", "manifest", "models", "endpoints", "adapters", "registry", "observe",
}  # fmt: skip
ALLOWED: dict[str, set[str]] = {
    "_redact": set(),
    "_errors": {"_redact"},
    "protocols": set(),
    "_worker": set(),
    "_aio": set(),
    "_net": set(),
    "tools": BASE,
    "runtime": BASE | {"tools"},
    "process": {"_redact", "_errors", "tools"},
    "observe": BASE | {"tools", "runtime", "process"},
    "http": {"_redact", "_errors", "_worker", "_net"},
    "manifest": {"_redact", "_errors"},
    "models": CORE | {"process"},
    "endpoints": CORE | {"http", "observe"},
    "adapters": CORE | {"http", "observe"},
    "registry": CORE | {"adapters"},
    "image": {"_redact", "_errors", "manifest", "models"},
    "jar": BELOW_JAR | {"image"},
    "serve": BELOW_JAR | {"jar"},
    "lifecycle": {"_redact", "_errors", "manifest", "process", "http", "jar"},
    "testing": CORE | {"http", "models"},
    "k8s": {"_redact", "_errors", "manifest", "models"},
    "cli": BELOW_JAR | {"jar", "serve", "lifecycle", "testing", "root", "k8s", "image"},
    "root": BELOW_JAR | {"jar", "serve", "lifecycle", "testing", "cli", "image"},
}


def _unit_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] in ("adapters", "registry"):
        return rel[0]
    if len(rel) == 2:  # brainjar/x.py
        stem = Path(rel[1]).stem
        return stem if stem in BASE else "root"
    return rel[1]


def _unit_of_module(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "brainjar":
        return None
    if len(parts) == 1:
        return "root"
    return parts[1]


def _package_of(path: Path) -> list[str]:
    rel = path.relative_to(ROOT).with_suffix("").parts
    if rel[0] in ("adapters", "registry"):
        rel = ("brainjar", *rel)
    return list(rel[:-1])


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    found = []
    package = _package_of(path)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def test_every_part_imports_only_what_lies_below_it() -> None:
    wrong = []
    files = [
        *ROOT.joinpath("brainjar").rglob("*.py"),
        *ROOT.joinpath("adapters").rglob("*.py"),
        *ROOT.joinpath("registry").rglob("*.py"),
    ]
    assert len(files) > 50
    for path in files:
        unit = _unit_of_file(path)
        for line, module in _imports(path):
            target = _unit_of_module(module)
            if target is None or target == unit:
                continue
            if target not in ALLOWED[unit]:
                rel = path.relative_to(ROOT)
                wrong.append(f"{rel}:{line}: {unit} imports {module} ({target})")
    assert not wrong, "imports against the layer map:\n" + "\n".join(sorted(wrong))


def test_the_layer_map_names_every_folder() -> None:
    folders = {p.name for p in ROOT.joinpath("brainjar").iterdir() if (p / "__init__.py").exists()}
    assert folders <= set(ALLOWED), folders - set(ALLOWED)
    doc = (ROOT / "brainjar" / "__init__.py").read_text()
    for folder in folders | {"adapters", "registry"}:
        assert f"    {folder} " in doc, f"{folder} is missing from the map in brainjar/__init__.py"


def test_a_jar_serving_http_loads_neither_the_mcp_sdk_nor_grpc() -> None:
    """What a jar with only OpenAI or Ollama endpoints imports to serve them. The MCP
    SDK alone is about a second of start-up and 40 MB of memory (bench_endpoints)."""
    probe = (
        "import sys, brainjar.serve, brainjar.cli._run\n"
        "from brainjar.serve import serve_endpoints\n"
        "from brainjar.endpoints import openai_endpoint, ollama_endpoint\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'grpc', 'fastmcp'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert loaded.stdout.strip() == "[]", loaded.stdout
