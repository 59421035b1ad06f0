"""The UI message stream written from a reply's frames (`aisdk_wire.UIMessageChunks`), frame
by frame: frames lost on the way, and a stream joined late, end in the same chunks."""

from conversations import aisdk_wire, events

REPLY = "r-1"


def delta(seq, index, item_type, text):
    return {**events.message_delta(REPLY, index, item_type, text), "seq": seq}


def snapshot(content, seq=0):
    return events.message_snapshot({"id": REPLY, "content": content}, seq)


def finished(content, status="completed", error=None):
    return events.message_finished(
        {"id": REPLY, "status": status, "content": content, "error": error}
    )


def chunks_of(frames) -> list[dict]:
    maker = aisdk_wire.UIMessageChunks(REPLY)
    chunks = maker.first()
    for frame in frames:
        chunks += maker.frame(frame)
    return chunks


def text(chunks, kind="text"):
    return "".join(chunk["delta"] for chunk in chunks if chunk["type"] == f"{kind}-delta")


TEXT = [{"type": "output_text", "text": "Hello world", "annotations": []}]


def test_a_lost_delta_comes_from_the_snapshot_that_follows_it():
    whole = chunks_of([delta(1, 0, "output_text", "Hel"), snapshot(TEXT, 3), finished(TEXT)])

    assert text(whole) == "Hello world"
    assert [c["type"] for c in whole] == [
        "start", "start-step", "text-start", "text-delta", "text-delta", "text-end",
        "finish-step", "finish",
    ]  # fmt: skip


def test_a_stream_joined_late_starts_from_the_snapshot_and_ends_the_same():
    joined = chunks_of([snapshot([{**TEXT[0], "text": "Hello"}], 1), finished(TEXT)])
    live = chunks_of(
        [delta(1, 0, "output_text", "Hello"), delta(2, 0, "output_text", " world"), finished(TEXT)]
    )

    assert text(joined) == text(live) == "Hello world"
    assert [c["type"] for c in joined] == [c["type"] for c in live]


def test_each_run_of_reasoning_and_text_is_a_part_of_its_own():
    content = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Think"}]},
        {"type": "output_text", "text": "Say", "annotations": []},
    ]
    chunks = chunks_of(
        [delta(1, 0, "reasoning", "Think"), delta(2, 1, "output_text", "Say"), finished(content)]
    )

    assert [(c["type"], c.get("id")) for c in chunks[2:-2]] == [
        ("reasoning-start", "r0"),
        ("reasoning-delta", "r0"),
        ("reasoning-end", "r0"),
        ("text-start", "t1"),
        ("text-delta", "t1"),
        ("text-end", "t1"),
    ]


def test_tool_calls_close_with_their_input_and_output_before_the_next_step():
    call = {"type": "function_call", "call_id": "c1", "name": "calculate", "arguments": ""}
    done = {**call, "arguments": '{"expression": "1+1"}'}
    output = {"type": "function_call_output", "call_id": "c1", "output": '{"value": 2}'}
    answer = {"type": "output_text", "text": "2", "annotations": []}
    chunks = chunks_of(
        [
            snapshot([call], 0),
            delta(1, 0, "function_call", '{"expression": '),
            snapshot([done, output], 1),
            delta(2, 2, "output_text", "2"),
            finished([done, output, answer]),
        ]
    )

    assert [c["type"] for c in chunks] == [
        "start", "start-step", "tool-input-start", "tool-input-delta", "tool-input-available",
        "tool-output-available", "finish-step", "start-step", "text-start", "text-delta",
        "text-end", "finish-step", "finish",
    ]  # fmt: skip
    assert chunks[4]["input"] == {"expression": "1+1"}
    assert chunks[5]["output"] == {"value": 2}


def test_a_failed_reply_ends_with_an_error_and_a_stopped_one_with_abort():
    failed = chunks_of([finished([], "failed", {"code": "x", "message": "Upstream down."})])
    stopped = chunks_of([delta(1, 0, "output_text", "Hel"), finished(TEXT, "cancelled")])

    assert failed[2:] == [
        {"type": "error", "errorText": "Upstream down."},
        {"type": "finish-step"},
        {"type": "finish"},
    ]
    assert [c["type"] for c in stopped][-3:] == ["text-end", "finish-step", "abort"]
    assert text(stopped) == "Hello world"


def test_frames_of_other_messages_make_no_chunks():
    other = {**events.message_delta("r-2", 0, "output_text", "x"), "seq": 1}

    assert chunks_of([other, events.message_created({"id": "u-1", "content": []})])[2:] == []
