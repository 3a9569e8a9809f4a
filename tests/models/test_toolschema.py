"""How tool results are shown to a small model that replies in JSON (issue 15)."""

from __future__ import annotations

from brainjar import Message, ToolSpec
from brainjar.models._toolschema import answer_now, history_messages
from brainjar.runtime._messages import ToolCall

TOOLS = (
    ToolSpec(name="list_directory", description="List files", parameters={"type": "object"}),
    ToolSpec(
        name="read_file",
        description="Read a file",
        parameters={"type": "object", "properties": {"file_path": {"type": "string"}}},
    ),
)

CALL = ToolCall(id="c1", name="list_directory", arguments="{}")
HISTORY = [
    Message(role="user", content="What is in the sandbox?"),
    Message(role="assistant", content="", tool_calls=(CALL,)),
    Message(role="tool", content="todo.txt\nnotes.txt\n", name="list_directory", tool_call_id="c1"),
]


def test_a_multi_line_result_is_one_line_the_model_can_copy_into_a_json_string() -> None:
    shown = history_messages(HISTORY, TOOLS)
    last = shown[-1]
    assert last.role == "user"
    assert "Tool result (list_directory):\ntodo.txt; notes.txt" in last.content
    assert "todo.txt; notes.txt" in answer_now(HISTORY)


def test_the_question_follows_the_last_tool_result() -> None:
    shown = history_messages(HISTORY, TOOLS)
    assert shown[-1].content.endswith("answer my question: What is in the sandbox?")
    earlier = history_messages([*HISTORY, Message(role="user", content="And now?")], TOOLS)
    assert "answer my question" not in earlier[-2].content


def test_results_of_one_step_are_one_user_turn() -> None:
    second = ToolCall(id="c2", name="read_file", arguments='{"file_path": "todo.txt"}')
    history = [
        HISTORY[0],
        Message(role="assistant", content="", tool_calls=(CALL, second)),
        HISTORY[2],
        Message(role="tool", content="Buy milk.", name="read_file", tool_call_id="c2"),
    ]
    shown = history_messages(history, TOOLS)
    assert [m.role for m in shown] == ["system", "user", "assistant", "user"]
    assert "list_directory" in shown[-1].content and "Buy milk." in shown[-1].content
    assert shown[-1].content.count("answer my question") == 1
