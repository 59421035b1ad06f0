from conversations.llm.accumulate import ReplyAccumulator
from conversations.llm.base import (
    Annotation,
    Finish,
    FunctionCallArgumentsDelta,
    FunctionCallDone,
    FunctionCallOutput,
    FunctionCallStart,
    ReasoningDelta,
    Refusal,
    TextDelta,
    Usage,
)


def test_events_fold_into_flat_content_items_in_arrival_order():
    reply = ReplyAccumulator()
    changes = [
        reply.apply(event)
        for event in [
            ReasoningDelta("Let me "),
            ReasoningDelta("think."),
            TextDelta("Checking"),
            FunctionCallStart("call_1", "calculate"),
            FunctionCallArgumentsDelta("call_1", '{"expression":'),
            FunctionCallArgumentsDelta("call_1", ' "1+1"}'),
            FunctionCallDone("call_1", "calculate", '{"expression": "1+1"}'),
            FunctionCallOutput("call_1", '{"value": 2}'),
            TextDelta("It is "),
            TextDelta("2."),
            Annotation({"type": "url_citation", "url": "https://example.com"}),
            Usage(3, 4, 1),
            Finish("stop"),
        ]
    ]
    assert reply.content == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Let me think."}]},
        {"type": "output_text", "text": "Checking", "annotations": []},
        {"type": "function_call", "call_id": "call_1", "name": "calculate",
         "arguments": '{"expression": "1+1"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"value": 2}'},
        {"type": "output_text", "text": "It is 2.",
         "annotations": [{"type": "url_citation", "url": "https://example.com"}]},
    ]  # fmt: skip
    assert changes[:3] == [(0, "reasoning", "Let me "), (0, "reasoning", "think."),
                           (1, "output_text", "Checking")]  # fmt: skip
    assert changes[4] == (2, "function_call", '{"expression":')
    assert changes[8:10] == [(4, "output_text", "It is "), (4, "output_text", "2.")]
    assert reply.usage == {"input_tokens": 3, "output_tokens": 4, "reasoning_tokens": 1}
    assert reply.finish_reason == "stop"


def test_usage_of_several_model_turns_adds_up_and_refusals_join():
    reply = ReplyAccumulator()
    for event in [Usage(1, 2, 0), Refusal("I can't "), Refusal("help."), Usage(10, 20, 5)]:
        reply.apply(event)
    assert reply.usage == {"input_tokens": 11, "output_tokens": 22, "reasoning_tokens": 5}
    assert reply.content == [{"type": "refusal", "refusal": "I can't help."}]
