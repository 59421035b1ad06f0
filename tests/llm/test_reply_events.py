"""The tool loop of `reply_events`, with a provider scripted turn by turn."""

from conversations.llm import MAX_TOOL_STEPS, reply_events
from conversations.llm.base import (
    Finish,
    FunctionCallDone,
    FunctionCallOutput,
    Provider,
    TextDelta,
    Usage,
)


class TurnsProvider(Provider):
    """Answers each model turn with the next list of events; records what it was sent."""

    def __init__(self, *turns):
        self.turns = list(turns)
        self.calls = []

    async def stream(self, messages, *, system_prompt="", model="", tools=None):
        self.calls.append({"messages": messages, "tools": tools})
        for event in self.turns.pop(0) if self.turns else [TextDelta("again"), Finish("stop")]:
            yield event


def calculation(call_id="call_1", expression="6 * 7"):
    return [
        FunctionCallDone(call_id, "calculate", f'{{"expression": "{expression}"}}'),
        Usage(5, 1),
        Finish("tool_calls"),
    ]


USER = [{"role": "user", "content": [{"type": "input_text", "text": "6 * 7?"}]}]


async def collect(provider, tools):
    return [event async for event in reply_events(USER, tools=tools, provider=provider)]


async def test_a_tool_call_runs_and_the_model_answers_with_its_output():
    provider = TurnsProvider(calculation(), [TextDelta("42"), Usage(9, 1), Finish("stop")])
    events = await collect(provider, ["calculate"])

    assert FunctionCallOutput("call_1", '{"expression": "6 * 7", "value": 42}') in events
    assert [e.reason for e in events if isinstance(e, Finish)] == ["stop"]
    assert [tool["name"] for tool in provider.calls[0]["tools"]] == ["calculate"]
    second_input = provider.calls[1]["messages"]
    assert second_input[:-1] == USER
    assert second_input[-1]["role"] == "assistant"
    assert [item["type"] for item in second_input[-1]["content"]] == [
        "function_call",
        "function_call_output",
    ]
    assert second_input[-1]["content"][1]["output"] == '{"expression": "6 * 7", "value": 42}'


async def test_a_failing_tool_becomes_an_error_output_the_model_sees():
    provider = TurnsProvider(calculation(expression="1 / 0"), [TextDelta("Sorry"), Finish("stop")])
    events = await collect(provider, ["calculate"])

    output = next(e for e in events if isinstance(e, FunctionCallOutput))
    assert output.output.startswith("Error: 1 / 0 cannot be computed")
    assert provider.calls[1]["messages"][-1]["content"][1]["output"] == output.output


async def test_a_tool_not_enabled_for_the_conversation_is_not_run_nor_offered():
    provider = TurnsProvider(calculation(), [TextDelta("ok"), Finish("stop")])
    events = await collect(provider, [])

    assert provider.calls[0]["tools"] is None
    output = next(e for e in events if isinstance(e, FunctionCallOutput))
    assert output.output == "Error: there is no tool named 'calculate'."


async def test_the_loop_is_bounded_and_the_last_turn_is_offered_no_tools():
    provider = TurnsProvider(*[calculation(f"call_{n}") for n in range(10)])
    events = await collect(provider, ["calculate"])

    assert len(provider.calls) == MAX_TOOL_STEPS
    assert provider.calls[-1]["tools"] is None
    assert all(call["tools"] for call in provider.calls[:-1])
    assert events[-1] == Finish("tool_calls")


async def test_tools_may_be_enabled_by_name_or_by_spec():
    specs = [
        {"type": "function", "name": "calculate"},
        {"type": "function", "function": {"name": "current_time"}},
        {"type": "function", "name": "client_side_tool"},
    ]
    provider = TurnsProvider([TextDelta("ok"), Finish("stop")])
    await collect(provider, specs)
    assert [tool["name"] for tool in provider.calls[0]["tools"]] == ["calculate", "current_time"]
