"""One distribution: adapters/ and registry/ ship as brainjar.adapters and brainjar.registry."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import brainjar

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"brainjar": "brainjar", "adapters": "brainjar.adapters", "registry": "brainjar.registry"}


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = set()
    for top, name in MAPPING.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]))
    assert found == listed


def test_the_editable_install_maps_the_folders() -> None:
    import brainjar.adapters
    import brainjar.registry

    assert Path(brainjar.adapters.__file__).parent == ROOT / "adapters"
    assert Path(brainjar.registry.__file__).parent == ROOT / "registry"
    assert (Path(brainjar.__file__).parent / "py.typed").exists()


def test_a_built_wheel_installs_and_imports_in_a_fresh_venv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("brainjar-*.whl")
    env_dir = tmp_path / "venv"
    # The fresh venv borrows the dependencies of the environment running the tests (a
    # virtualenv or not) through a .pth line, but gets brainjar only from the wheel: the
    # directory a .pth line adds is not scanned for .pth files, so the editable finder
    # installed there never loads.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    # Every site folder this interpreter sees: a virtualenv made with
    # --system-site-packages also reads the base interpreter's.
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    borrowed |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    Path(site, "borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    # This interpreter has brainjar installed editable; its import hook would win over the wheel.
    probe = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)];"
        "import brainjar, brainjar.adapters.langchain, brainjar.registry, pathlib;"
        "print(pathlib.Path(brainjar.adapters.__file__).parent);"
        "print(pathlib.Path(brainjar.registry.__file__).parent);"
        "print((pathlib.Path(brainjar.__file__).parent / 'py.typed').exists())"
    )
    out = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    )
    adapters, registry, typed = out.stdout.split()
    assert adapters.startswith(str(env_dir)) and adapters.endswith("brainjar/adapters")
    assert registry.startswith(str(env_dir)) and registry.endswith("brainjar/registry")
    assert typed == "True"
    assert brainjar.__version__


def test_every_imported_third_party_module_is_declared() -> None:
    """A module the code imports comes from a distribution pyproject.toml names."""
    import ast
    import importlib.metadata
    import re

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for spec in [
            *project["dependencies"],
            *(s for extra in project["optional-dependencies"].values() for s in extra),
        ]
    }
    providers = importlib.metadata.packages_distributions()
    missing = set()
    for top in ("brainjar", "adapters", "registry"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    root = name.split(".")[0]
                    if root in sys.stdlib_module_names or root == "brainjar":
                        continue
                    dists = {d.lower().replace("_", "-") for d in providers.get(root, [root])}
                    if not dists & declared:
                        missing.add(f"{root} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not declared: {sorted(missing)}"
