"""Our messages written for the model: one encoder per API, one reference format."""

import copy

from conversations.llm.input import (
    message_to_chat_completion_input,
    message_to_plain_text_input,
    message_to_responses_input,
)

CONVERSATION = [
    {"role": "system", "content": [{"type": "input_text", "text": "Old system note"}]},
    {
        "role": "user",
        "status": "completed",
        "content": [
            {"type": "input_text", "text": "What is in these?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            {
                "type": "input_file",
                "filename": "a.pdf",
                "file_data": "data:application/pdf;base64,BB",
            },
        ],
        "references": [
            {"type": "url", "name": "Docs", "url": "https://d.example", "content": "Ref"}
        ],
    },
    {
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]},
            {"type": "output_text", "text": "Let me check.", "annotations": []},
            {"type": "function_call", "call_id": "c1", "name": "current_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "noon"},
            {"type": "output_text", "text": "A cat, at noon.", "annotations": []},
            {"type": "plan", "steps": ["an app type the model never sees"]},
        ],
    },
]


def test_our_messages_to_chat_completions_input():
    assert message_to_chat_completion_input(CONVERSATION, system_prompt="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Old system note"},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                "detail": "auto"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,BB",
                                      "filename": "a.pdf"}},
            {"type": "text", "text": "Reference: Docs (https://d.example)\n\nRef"},
        ]},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "current_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "noon"},
        {"role": "assistant", "content": "A cat, at noon."},
    ]  # fmt: skip


def test_our_messages_to_responses_input():
    assert message_to_responses_input(CONVERSATION, system_prompt="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": [{"type": "input_text", "text": "Old system note"}]},
        {"role": "user", "content": [
            {"type": "input_text", "text": "What is in these?"},
            {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,AAAA"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,BB",
             "filename": "a.pdf"},
            {"type": "input_text", "text": "Reference: Docs (https://d.example)\n\nRef"},
        ]},
        {"role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "c1", "name": "current_time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "noon"},
        {"role": "assistant", "content": "A cat, at noon."},
    ]  # fmt: skip


def test_a_text_only_user_message_is_a_plain_string_for_chat_completions():
    messages = [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]
    assert message_to_chat_completion_input(messages) == [{"role": "user", "content": "Hi"}]


def test_a_call_without_its_output_and_an_output_without_its_call_are_left_out():
    messages = [
        {"role": "user", "content": [{"type": "input_text", "text": "Time?"}]},
        {"role": "assistant", "status": "cancelled", "content": [
            {"type": "function_call", "call_id": "lost", "name": "current_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "stray", "output": "?"},
            {"type": "output_text", "text": "Stopped.", "annotations": []},
        ]},
        {"role": "tool", "content": [
            {"type": "function_call_output", "call_id": "also_stray", "output": "?"}
        ]},
    ]  # fmt: skip
    assert message_to_chat_completion_input(messages)[1:] == [
        {"role": "assistant", "content": "Stopped."}
    ]
    assert message_to_responses_input(messages)[1:] == [
        {"role": "assistant", "content": "Stopped."}
    ]


def test_a_tool_message_answers_the_call_of_the_message_before():
    messages = [
        {"role": "assistant", "content": [
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]},
        {"role": "tool", "content": [{"type": "function_call_output", "call_id": "c",
                                      "output": "done"}]},
    ]  # fmt: skip
    assert message_to_chat_completion_input(messages) == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]  # fmt: skip


def test_encoders_leave_their_input_untouched():
    before = copy.deepcopy(CONVERSATION)
    message_to_chat_completion_input(CONVERSATION)
    message_to_responses_input(CONVERSATION)
    message_to_plain_text_input(CONVERSATION)
    assert before == CONVERSATION


def test_our_messages_as_plain_text_for_a_local_model():
    assert message_to_plain_text_input(CONVERSATION, system_prompt="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Old system note"},
        {"role": "user",
         "content": "What is in these?\n\nReference: Docs (https://d.example)\n\nRef"},
        {"role": "assistant", "content": "Let me check."},
        {"role": "assistant", "content": "A cat, at noon."},
    ]  # fmt: skip


def test_plain_text_leaves_out_messages_without_text():
    messages = [
        {"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]},
        {"role": "user", "content": [], "references": [{"url": "https://r.example"}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
    ]
    assert message_to_plain_text_input(messages) == [
        {"role": "user", "content": "Reference: https://r.example"}
    ]
