"""The Python API as the README shows it."""

from __future__ import annotations

from pathlib import Path

import brainjar
from brainjar.testing import ScriptedModelServer, call, reply


def test_all_is_sorted_and_importable() -> None:
    assert brainjar.__all__ == sorted(brainjar.__all__, key=lambda n: (n[0].islower(), n))
    for name in brainjar.__all__:
        assert getattr(brainjar, name) is not None


async def test_the_readme_example(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("Thursday at 10.\n")
    async with ScriptedModelServer(
        [call("read_file", {"file_path": "notes.txt"}), reply("Thursday.")]
    ) as model:
        manifest = tmp_path / "jar.yaml"
        manifest.write_text(
            "apiVersion: brainjar.dev/v1\nkind: Jar\nmetadata: {name: readme}\nspec:\n"
            f"  model: {{backend: openai, endpoint: '{model.openai_base_url}', name: scripted}}\n"
            "  tools:\n"
            "    - langchain: langchain_community.agent_toolkits:FileManagementToolkit\n"
            "      with: {root_dir: ./}\n"
            "      include: [read_file]\n"
            "  loop: {transcripts: ./transcripts}\n"
        )
        async with brainjar.Jar.load(manifest) as jar:
            answer = await jar.ask("When is the meeting?")
        assert answer.text == "Thursday." and str(answer) == "Thursday."
        assert answer.stop_reason == "answer" and answer.steps == 2
        assert Path(answer.transcript or "").parent == tmp_path / "transcripts"
        assert model.requests[-1].body["messages"][-1]["content"] == "Thursday at 10.\n"
