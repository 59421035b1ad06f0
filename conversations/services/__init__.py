"""Every write to the models goes through these functions, one module per job.

Callers use the package (`services.message_continue(...)`): the websocket, the REST API
and the admin call the same function for the same change.
"""

from .accounts import user_ensure_demo
from .api_keys import api_key_create, api_key_revoke, api_key_touch
from .chat_completions import chat_completion_start
from .conversations import (
    conversation_create,
    conversation_delete,
    conversation_start,
    conversation_switch_branch,
    conversation_update,
)
from .feedback import feedback_clear, feedback_delete, feedback_set
from .mcp_servers import (
    mcp_server_delete,
    mcp_server_save,
    mcp_server_validate,
    mcp_servers_refresh,
)
from .messages import message_cancel, message_continue, message_delete, message_edit, message_reset
from .openai_conversations import (
    openai_conversation_create,
    openai_conversation_item_delete,
    openai_conversation_items_add,
    openai_conversation_update,
)
from .replies import (
    replies_recover_stale,
    reply_attach_runner,
    reply_checkpoint,
    reply_claim_next,
    reply_finish,
    reply_refuse,
    server_process_beat,
    server_process_register,
    server_process_retire,
)
from .responses import response_start
from .sharing import (
    attachment_create,
    attachment_delete,
    share_create,
    share_delete,
    share_record_view,
    share_revoke,
    shares_revoke_before_delete,
)
from .transfer import conversation_import
from .ui_chat import chat_submit

__all__ = [
    "api_key_create",
    "api_key_revoke",
    "api_key_touch",
    "attachment_create",
    "attachment_delete",
    "chat_completion_start",
    "chat_submit",
    "conversation_create",
    "conversation_delete",
    "conversation_import",
    "conversation_start",
    "conversation_switch_branch",
    "conversation_update",
    "feedback_clear",
    "feedback_delete",
    "feedback_set",
    "mcp_server_delete",
    "mcp_server_save",
    "mcp_server_validate",
    "mcp_servers_refresh",
    "message_cancel",
    "message_continue",
    "message_delete",
    "message_edit",
    "message_reset",
    "openai_conversation_create",
    "openai_conversation_item_delete",
    "openai_conversation_items_add",
    "openai_conversation_update",
    "replies_recover_stale",
    "reply_attach_runner",
    "reply_checkpoint",
    "reply_claim_next",
    "reply_finish",
    "reply_refuse",
    "response_start",
    "server_process_beat",
    "server_process_register",
    "server_process_retire",
    "share_create",
    "share_delete",
    "share_record_view",
    "share_revoke",
    "shares_revoke_before_delete",
    "user_ensure_demo",
]
