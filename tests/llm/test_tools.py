import json

import pytest

from conversations.llm.tools import TOOLS, calculate, run_tool, tool_specs


def value(output: str):
    return json.loads(output)["value"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-2 ** 2", -4), ("7 // 2", 3), ("7 % 4", 3),
     ("10 / 4", 2.5), ("sqrt(16) + abs(-1)", 5.0), ("round(pi, 2)", 3.14)],
)  # fmt: skip
def test_calculate_evaluates_arithmetic(expression, expected):
    assert value(calculate(expression)) == expected


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "open('/etc/passwd')", "x + 1", "[1, 2]", "'a' * 3",
     "(1).__class__", "9 ** 9 ** 9", "10 ** 200", "1 / 0", "sqrt(-1)", "1 +"],
)  # fmt: skip
def test_calculate_refuses_anything_but_bounded_arithmetic(expression):
    output = run_tool("calculate", json.dumps({"expression": expression}), allowed=["calculate"])
    assert output.startswith("Error:")


def test_current_time_answers_in_the_asked_time_zone():
    output = json.loads(run_tool("current_time", '{"timezone": "Asia/Tokyo"}', allowed=TOOLS))
    assert output["timezone"] == "Asia/Tokyo"
    assert output["now"].endswith("+09:00")


def test_failures_become_error_texts_for_the_model():
    assert run_tool("current_time", '{"timezone": "Mars/Olympus"}', allowed=TOOLS).startswith(
        "Error: unknown time zone"
    )
    assert run_tool("current_time", "{not json", allowed=TOOLS).startswith("Error:")
    assert run_tool("current_time", '{"zone": "UTC"}', allowed=TOOLS).startswith("Error:")
    assert run_tool("calculate", '"1 + 1"', allowed=TOOLS).startswith("Error:")


def test_a_tool_the_conversation_did_not_enable_does_not_run():
    assert run_tool("calculate", '{"expression": "1"}', allowed=["current_time"]) == (
        "Error: there is no tool named 'calculate'."
    )


def test_specs_cover_only_registered_tools_in_the_given_order():
    specs = tool_specs(["calculate", "retired_tool", "current_time"])
    assert [spec["name"] for spec in specs] == ["calculate", "current_time"]
    assert specs[0]["type"] == "function"
    assert specs[0]["parameters"]["required"] == ["expression"]
