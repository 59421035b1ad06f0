"""The wire-format parsers, on the chat-dialogue seed's examples and cases of our own."""

import copy
import json
from pathlib import Path

from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from conversations.llm.adapters import (
    chat_completion_to_message,
    response_to_message,
    streaming_chat_completion_to_message,
    streaming_response_to_message,
)

SEED = json.loads((Path(__file__).parent / "seed_examples.json").read_text())


def types(message):
    return [item["type"] for item in message["content"]]


def test_chat_completion_gives_one_message_per_choice():
    (message,) = chat_completion_to_message(SEED["chat_completion"])
    assert message["role"] == "assistant"
    assert message["status"] == "completed"
    assert message["content"] == [
        {"type": "output_text", "text": "Hello! How can I assist you today?", "annotations": []},
        {"type": "function_call", "call_id": "call_abc123", "name": "get_current_weather",
         "arguments": '{\n"location": "Boston, MA"\n}'},
    ]  # fmt: skip


def test_chat_completion_accepts_the_sdk_objects_and_several_choices():
    data = copy.deepcopy(SEED["chat_completion"])
    second = copy.deepcopy(data["choices"][0])
    second.update(index=1, finish_reason="length")
    second["message"].update(content="Cut", tool_calls=None)
    data["choices"].append(second)
    data.update(object="chat.completion", usage={"prompt_tokens": 3, "completion_tokens": 4,
                                                 "total_tokens": 7})  # fmt: skip
    first, cut = chat_completion_to_message(ChatCompletion.model_validate(data))
    assert types(first) == ["output_text", "function_call"]
    assert (cut["status"], types(cut)) == ("incomplete", ["output_text"])
    assert cut["usage"] == {"input_tokens": 3, "output_tokens": 4, "reasoning_tokens": 0}


def test_streamed_chat_chunks_join_interleaved_choices_and_tool_call_deltas():
    messages, _ = streaming_chat_completion_to_message(SEED["streaming_chat_completion"])
    text, tool = messages
    assert text["content"] == [
        {
            "type": "output_text",
            "annotations": [],
            "text": " I'm using streamingChatCompletionToMessage"
            " transform to Chat Completion Chunks 🥳",
        }
    ]
    assert tool["content"] == [
        {"type": "function_call", "call_id": "call_1", "name": "searchWeather",
         "arguments": '{"city":"Beijing"},"day":"today"}'}
    ]  # fmt: skip
    assert text["status"] == tool["status"] == "completed"


def test_streamed_chat_chunks_can_be_fed_in_slices_with_the_state():
    chunks = SEED["streaming_chat_completion"]
    messages, state = streaming_chat_completion_to_message(chunks[:4])
    assert messages[0]["status"] == "in_progress"
    assert messages[0]["content"][0]["text"] == " I'm using streamingChatCompletionToMessage"
    for start in range(4, len(chunks), 2):
        messages, state = streaming_chat_completion_to_message(chunks[start : start + 2], state)
    assert messages == streaming_chat_completion_to_message(chunks)[0]


def test_streamed_tool_call_arguments_join_by_index_not_by_arrival():
    def chunk(calls):
        return {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": calls}}]}

    messages, _ = streaming_chat_completion_to_message([
        chunk([{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x"'}},
               {"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"y"'}}]),
        chunk([{"index": 1, "function": {"arguments": ": 2}"}}]),
        chunk([{"index": 0, "function": {"arguments": ": 1}"}}]),
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2,
                                             "completion_tokens_details": {"reasoning_tokens": 1}}},
    ])  # fmt: skip
    (message,) = messages
    assert [(c["call_id"], c["arguments"]) for c in message["content"]] == [
        ("a", '{"x": 1}'),
        ("b", '{"y": 2}'),
    ]
    assert message["usage"] == {"input_tokens": 1, "output_tokens": 2, "reasoning_tokens": 1}


def test_a_response_gives_reasoning_text_with_annotations_and_calls():
    message = response_to_message(SEED["response"])
    assert types(message) == ["reasoning", "output_text", "function_call"]
    assert message["content"][0]["summary"][0]["text"].startswith("**What is Semi Design?**")
    assert len(message["content"][1]["annotations"]) == 3
    assert message["content"][1]["annotations"][0]["url"].startswith("https://semi.design")
    assert message["content"][2] == {
        "type": "function_call",
        "call_id": "call_12345xyz",
        "name": "get_semi_page",
        "arguments": '{"pageName":"AIChatDialogue"}',
    }
    assert message["status"] == "completed"


def test_a_response_as_an_sdk_object_with_a_refusal():
    data = {
        "id": "resp_1", "object": "response", "created_at": 1, "model": "m", "status": "completed",
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "output": [{"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "refusal", "refusal": "I cannot."}]}],
    }  # fmt: skip
    message = response_to_message(Response.model_validate(data))
    assert message["content"] == [{"type": "refusal", "refusal": "I cannot."}]


def shuffled(count):
    """The seed's shuffled arrival: chunk 5 skipped then late, chunk 6 twice. Its indices
    point past the end of the list (the stream has no sequence number 8): nothing arrives."""
    chunks = SEED["reasoning_chunks"]
    indices = SEED["fixed_shuffled_indices"][:count]
    return [chunks[i] if i < len(chunks) else None for i in indices]


def reasoning_text(message):
    return message["content"][0]["summary"][0]["text"] if message["content"] else ""


def test_the_shuffled_stream_applies_in_sequence_order_and_ignores_the_duplicate():
    message, state = streaming_response_to_message(shuffled(8))  # 0-4, 6, 6, 7
    assert reasoning_text(message) == "T"  # 6 and 7 wait for 5
    message, state = streaming_response_to_message(shuffled(9)[8:], state)  # 5 arrives late
    assert reasoning_text(message) == "Thin"
    assert message["status"] == "in_progress"


def test_the_shuffled_stream_waits_at_the_gap_until_the_completed_event():
    message, _ = streaming_response_to_message(shuffled(16))
    # Sequence number 8 never came: the done event (9) and the text (10-15) wait.
    assert types(message) == ["reasoning"]
    assert reasoning_text(message) == "Thin"


def test_the_completed_event_is_authoritative():
    message, _ = streaming_response_to_message(shuffled(18))
    assert message["status"] == "completed"
    assert message["content"] == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "思考完成!"}]},
        {"type": "output_text", "text": "基于上述思考,结论如下:...", "annotations": []},
    ]
    assert message["usage"] == {"input_tokens": 12, "output_tokens": 120, "reasoning_tokens": 16}


def test_the_shuffled_stream_fed_one_chunk_at_a_time_or_all_again_ends_the_same():
    state = None
    for chunk in shuffled(18):
        message, state = streaming_response_to_message([chunk], state)
    assert message == streaming_response_to_message(shuffled(18))[0]
    # Feeding the whole list again with the state (as the seed's demo does) changes nothing.
    assert streaming_response_to_message(shuffled(18), state)[0] == message


def test_done_events_replace_what_the_deltas_built():
    in_order = [c for c in SEED["reasoning_chunks"] if c["sequence_number"] < 16]
    # Fill the seed's gap so that the done events apply.
    gap = {"type": "response.reasoning_summary_text.delta", "sequence_number": 8,
           "output_index": 0, "summary_index": 0, "delta": "k"}  # fmt: skip
    message, _ = streaming_response_to_message([*in_order[:8], gap, *in_order[8:]])
    assert types(message) == ["reasoning", "output_text"]
    assert reasoning_text(message) == "思考完成!"  # from response.output_item.done
    assert message["content"][1]["text"] == "Based on the reasoning above, the conclusions are: ..."


def test_streamed_function_calls_and_annotations():
    events = [
        {"type": "response.output_item.added", "sequence_number": 0, "output_index": 0,
         "item": {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f",
                  "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "sequence_number": 1,
         "output_index": 0, "item_id": "fc_1", "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "sequence_number": 2,
         "output_index": 0, "item_id": "fc_1", "delta": " 1}"},
        {"type": "response.output_text.delta", "sequence_number": 3, "output_index": 1,
         "item_id": "msg_1", "content_index": 0, "delta": "See"},
        {"type": "response.output_text.annotation.added", "sequence_number": 4,
         "output_index": 1, "item_id": "msg_1", "content_index": 0, "annotation_index": 0,
         "annotation": {"type": "url_citation", "url": "https://example.com"}},
    ]  # fmt: skip
    message, _ = streaming_response_to_message(events)
    assert message["content"] == [
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a": 1}'},
        {"type": "output_text", "text": "See",
         "annotations": [{"type": "url_citation", "url": "https://example.com"}]},
    ]  # fmt: skip


def test_adapters_leave_their_input_untouched():
    before = copy.deepcopy(SEED)
    streaming_response_to_message(shuffled(18))
    streaming_chat_completion_to_message(SEED["streaming_chat_completion"])
    response_to_message(SEED["response"])
    assert before == SEED
