"""The OpenAI-compatible API under /v1/: the same conversations, runner and permissions as
the web UI, spoken in OpenAI's wire formats (shapes built in `conversations.openai_wire`
and `conversations.responses_wire`)."""
