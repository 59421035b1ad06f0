"""Conversations are trees of messages; the branch shown ends at `current_leaf`."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Role(models.TextChoices):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class Status(models.TextChoices):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    INCOMPLETE = "incomplete"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Rating(models.TextChoices):
    GOOD = "good"
    BAD = "bad"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    tools = models.JSONField(default=list, blank=True)
    context = models.JSONField(default=dict, blank=True)
    current_leaf = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    archived = models.BooleanField(default=False)
    # The id an AI SDK client chose for this chat (`POST /api/chat`), unique per owner.
    chat_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="conversation_owner_updated")]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "chat_id"],
                condition=~Q(chat_id=""),
                name="conversation_owner_chat_id",
            )
        ]

    def __str__(self):
        return self.title or f"Conversation {self.id}"


class ServerProcess(models.Model):
    """A server process that runs replies; its heartbeat tells the others it is alive, so
    the replies of one that died are found within seconds."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.host}:{self.pid}"


class Message(models.Model):
    Role = Role
    Status = Status

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # Deleting a message deletes its subtree.
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETED)
    model = models.CharField(max_length=200, blank=True)
    error = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    flags = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The client's Idempotency-Key of the request that created this reply:
    # a retry with the same key returns this reply instead of a second one.
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    # The server process running this reply, while it runs (null when no server runs it).
    runner = models.ForeignKey(
        ServerProcess, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    # Not stored: what the model reads to write this reply, when the turn that created it
    # read it (its runner then starts without a database step of its own).
    model_input: list[dict] | None = None

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["conversation", "created_at"], name="message_conversation_created"
            ),
            models.Index(fields=["parent", "created_at"], name="message_parent_created"),
            # Replies waiting or running: the queue and the stale-reply check.
            models.Index(
                fields=["status"],
                name="message_unfinished",
                condition=Q(status__in=[Status.QUEUED, Status.IN_PROGRESS]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="message_role_valid"),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="message_status_valid"
            ),
            models.UniqueConstraint(
                fields=["conversation", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="message_idempotency_key_unique",
            ),
        ]

    def __str__(self):
        return f"{self.role} message {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status not in {self.Status.QUEUED, self.Status.IN_PROGRESS}


class ContentItem(models.Model):
    """One part of a message, in the OpenAI Responses vocabulary; unknown types are kept as is."""

    class Type(models.TextChoices):
        INPUT_TEXT = "input_text"
        OUTPUT_TEXT = "output_text"
        INPUT_IMAGE = "input_image"
        INPUT_FILE = "input_file"
        REFUSAL = "refusal"
        REASONING = "reasoning"
        FUNCTION_CALL = "function_call"
        FUNCTION_CALL_OUTPUT = "function_call_output"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="content")
    index = models.PositiveIntegerField()
    type = models.CharField(max_length=64)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Model text (`output_text`) rendered to sanitized HTML when it is stored, so reads
    # do not render it again. Empty for other types, and while a reply runs: its
    # checkpoints store text that is about to grow, which readers render themselves.
    html = models.TextField(blank=True, default="", editable=False)

    class Meta:
        # By the column: by `message`, every read of items joined the messages to sort
        # them by their creation (0.5 to 1 of the 6 ms that reading a page of 50 took).
        ordering = ["message_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["message", "index"], name="content_item_unique_index")
        ]

    def __str__(self):
        return f"{self.type} #{self.index} of {self.message_id}"


class Reference(models.Model):
    """Material the user quotes with a message; it is sent to the model."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="references")
    index = models.PositiveIntegerField(default=0)
    type = models.CharField(max_length=32, default="text")
    name = models.CharField(max_length=200, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    content = models.TextField(blank=True)

    class Meta:
        ordering = ["message_id", "index"]  # by the column, as items are

    def __str__(self):
        return self.name or self.url or f"{self.type} reference"


class Feedback(models.Model):
    Rating = Rating

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback"
    )
    rating = models.CharField(max_length=8, choices=Rating.choices)
    comment = models.TextField(blank=True)
    reasons = models.JSONField(default=list, blank=True)
    # The model of the rated reply, so feedback reads as a dataset without joins.
    model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="feedback_one_per_user"),
            models.CheckConstraint(
                condition=Q(rating__in=Rating.values), name="feedback_rating_valid"
            ),
        ]
        indexes = [models.Index(fields=["rating", "-created_at"], name="feedback_rating_created")]

    def __str__(self):
        return f"{self.rating} by {self.user_id} on {self.message_id}"


class Share(models.Model):
    """A read-only snapshot link: the branch up to `message`, or only `selected` ids."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.CharField(max_length=64, unique=True)
    # Deleting the conversation or the shared message revokes the share and keeps its row
    # (null here) as the record of what was shared, by whom, and when it stopped working.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, related_name="shares"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, related_name="shares"
    )
    # The conversation's title when shared: part of the snapshot, like the messages.
    title = models.CharField(max_length=200, blank=True)
    selected = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Share of {self.conversation_id} ({self.token[:8]}…)"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def attachment_path(instance, filename):
    return f"attachments/{instance.owner_id}/{instance.id}/{filename}"


class Attachment(models.Model):
    """An uploaded image or file, referenced from input_image/input_file items by `file_id`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class ApiKey(models.Model):
    """A key for the OpenAI-compatible API (`Authorization: Bearer <key>`). Only a hash of
    the secret is stored: the whole key is shown once, when it is made."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    # The key's first characters, to tell keys apart in lists.
    prefix = models.CharField(max_length=16)
    # SHA-256 of the whole key (hex): keys are random enough that a slow hash adds nothing.
    hashed_secret = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ModelOption(models.Model):
    """A model the chat's picker offers, as staff set it up in the admin. While no row is
    enabled, the picker offers every model the provider lists."""

    model = models.CharField(max_length=200, unique=True, help_text="The provider's id for it")
    display_name = models.CharField(
        max_length=200, blank=True, help_text="The name people see (empty: the id)"
    )
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first")
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        "default", default=False, help_text="Chosen for conversations that chose none"
    )

    class Meta:
        ordering = ["position", "model"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="model_option_one_default"
            )
        ]

    def __str__(self):
        return self.display_name or self.model


class UserQuota(models.Model):
    """A user's own daily token quota, in place of CHAT_DAILY_TOKEN_QUOTA."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_quota"
    )
    daily_tokens = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Tokens (prompt + completion) in any 24 hours; empty: CHAT_DAILY_TOKEN_QUOTA",
    )
    unlimited = models.BooleanField(default=False, help_text="No quota at all for this user")

    def __str__(self):
        return f"Token quota of {self.user_id}"


class TokenUsage(models.Model):
    """What one reply cost, recorded when it ends: the ledger quotas and usage figures
    add up. It outlives the reply, so deleting a conversation gives no tokens back."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_usage"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model = models.CharField(max_length=200, blank=True)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="token_usage_user_created")]

    def __str__(self):
        return f"{self.input_tokens}+{self.output_tokens} tokens of {self.user_id}"


class McpServer(models.Model):
    """An MCP tool server added at run time (next to those of `MCP_SERVERS`): a command
    run over stdio or a streamable HTTP URL. `env` and `headers` hold secrets (API keys,
    tokens): the admin never shows their values back."""

    class Transport(models.TextChoices):
        STDIO = "stdio", "stdio (a command)"
        HTTP = "http", "streamable HTTP (a URL)"

    name = models.CharField(
        max_length=32,
        unique=True,
        help_text="Letters, digits, _ and -: its tools are offered as <name>__<tool>.",
    )
    transport = models.CharField(max_length=8, choices=Transport, default=Transport.STDIO)
    command = models.CharField(max_length=500, blank=True)
    args = models.JSONField(default=list, blank=True)
    env = models.JSONField(default=dict, blank=True)
    url = models.URLField(max_length=500, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    offered_by_default = models.BooleanField(
        default=False,
        help_text="Offer its tools to every conversation, not only those naming them.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MCP server"

    def __str__(self):
        return self.name
