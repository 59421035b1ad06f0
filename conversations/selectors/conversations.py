"""Reads of conversations and their messages (the tree, branches, pages, exports), of
attachments, API keys and sessions."""

import re
import uuid
from collections import defaultdict
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection, transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from ..lookups import AnyOf
from ..models import (
    ApiKey,
    Attachment,
    ContentItem,
    Conversation,
    Feedback,
    Message,
    Reference,
)
from ..serialization import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    REFERENCE_FIELDS,
    conversation_to_dict,
    feedback_to_dict,
    iso,
    item_to_dict,
    message_to_dict,
    storable,
)

# Messages of a branch read at once: by default, and at most (`?limit=`).
BRANCH_PAGE_SIZE = 50
MAX_BRANCH_PAGE_SIZE = 200


def conversation_list_for_user(
    *, user, archived: bool | None = False, query: str = ""
) -> QuerySet[Conversation]:
    """The user's conversations, most recently updated first; `query` searches titles and
    message text (full-text search on PostgreSQL, a substring match elsewhere)."""
    conversations = Conversation.objects.filter(owner=user)
    if archived is not None:
        conversations = conversations.filter(archived=archived)
    query = storable(query).strip()
    if query:
        items = ContentItem.objects.filter(message__conversation__owner=user)
        if connection.vendor == "postgresql":
            search = SearchQuery(query, search_type="websearch", config="english")
            items = items.annotate(search=SearchVector("text", config="english")).filter(
                search=search
            )
            title = Q(title__icontains=query) | Q(
                id__in=Conversation.objects.filter(owner=user)
                .annotate(search=SearchVector("title", config="english"))
                .filter(search=search)
                .values("id")
            )
        else:
            items = items.filter(text__icontains=query)
            title = Q(title__icontains=query)
        conversations = conversations.filter(
            title | Q(id__in=items.values("message__conversation_id"))
        )
    return conversations.order_by("-updated_at")


def conversation_get_for_user(*, user, id) -> Conversation:
    """The user's conversation `id`; anyone else's, or a malformed id, is a 404."""
    try:
        return Conversation.objects.get(owner=user, id=uuid.UUID(str(id)))
    except (ValueError, Conversation.DoesNotExist):
        raise Http404("No such conversation.") from None


# A chat id goes in URLs as it is (`/api/chat/<id>/stream`): URL-safe characters only.
CHAT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,200}\Z")


def chat_find_for_user(*, user, chat_id: str) -> Conversation | None:
    """The user's conversation an AI SDK chat id names (`/api/chat`): the one remembered
    under that id, or the one whose own id it is; None when there is none (an id that
    no chat can have among them)."""
    if not CHAT_ID.match(chat_id):
        return None
    found = Conversation.objects.filter(owner=user, chat_id=chat_id).first()
    if found is not None:
        return found
    try:
        return Conversation.objects.filter(owner=user, id=uuid.UUID(chat_id)).first()
    except ValueError:
        return None


def chat_get_for_user(*, user, chat_id: str) -> Conversation:
    """As `chat_find_for_user`, but an unknown chat (anyone else's too) is a 404."""
    conversation = chat_find_for_user(user=user, chat_id=chat_id)
    if conversation is None:
        raise Http404("No such chat.")
    return conversation


def chat_running_reply(*, conversation: Conversation) -> Message | None:
    """The reply being written (or waiting its turn) in a chat: the one the shown branch
    ends with, else the newest; None when none is."""
    unfinished = Message.objects.filter(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status__in=(Message.Status.QUEUED, Message.Status.IN_PROGRESS),
    )
    leaf = unfinished.filter(id=conversation.current_leaf_id).first()
    return leaf or unfinished.order_by("-created_at").first()


def message_get_for_user(*, user, id) -> Message:
    """A message of one of the user's conversations; anyone else's is a 404."""
    try:
        return Message.objects.select_related("conversation").get(
            conversation__owner=user, id=uuid.UUID(str(id))
        )
    except (ValueError, Message.DoesNotExist):
        raise Http404("No such message.") from None


def response_get_for_user(*, user, id) -> Message:
    """A stored reply of the user's, as the Responses API names it (`id`); anyone else's,
    a user's message, or a reply of a `store: false` request, is a 404."""
    try:
        return Message.objects.select_related("conversation").get(
            conversation__owner=user,
            role=Message.Role.ASSISTANT,
            id=uuid.UUID(str(id)),
            conversation__context__store__isnull=True,
        )
    except (ValueError, Message.DoesNotExist):
        raise Http404(f"No response with id '{id}'.") from None


def messages_with_content() -> QuerySet[Message]:
    """Messages with their content items and references fetched in two extra queries, as
    the lists `content_rows` and `reference_rows` (what `message_to_dict` reads)."""
    # Lists, not the related managers' caches: filling a manager's cache builds two
    # querysets per message, which took 35 of the 75 ms that reading 1,000 messages did.
    return Message.objects.prefetch_related(
        Prefetch("content", to_attr="content_rows"),
        Prefetch("references", to_attr="reference_rows"),
    ).order_by("created_at")


def _children_by_parent(conversation_id) -> dict:
    """The conversation's tree as {parent_id: [child ids, oldest first]}, in one query."""
    children = defaultdict(list)
    rows = Message.objects.filter(conversation_id=conversation_id).order_by("created_at")
    for message_id, parent_id in rows.values_list("id", "parent_id"):
        children[parent_id].append(message_id)
    return children


def _parents(conversation_id) -> dict:
    rows = Message.objects.filter(conversation_id=conversation_id).values_list("id", "parent_id")
    return dict(rows)


def message_path_ids(*, conversation_id, leaf_id) -> list:
    """Ids from the root down to `leaf_id` (empty when there is no leaf)."""
    if leaf_id is None:
        return []
    return _root_down(_parents(conversation_id), leaf_id)


def _root_down(parents: dict, leaf_id) -> list:
    """Ids from the root down to `leaf_id`, given each message's parent id."""
    path = []
    node = leaf_id
    while node is not None:
        path.append(node)
        node = parents.get(node)
    path.reverse()
    return path


def _messages_in_order(ids: list) -> list[Message]:
    """The messages `ids` that still exist, in that order, with content and references
    (one deleted since the ids were read is left out: its tabs hear of the delete)."""
    by_id = messages_with_content().in_bulk(ids)
    return [by_id[message_id] for message_id in ids if message_id in by_id]


def message_path(*, conversation_id, leaf_id) -> list[Message]:
    """The messages from the root down to `leaf_id`, with content and references."""
    return _messages_in_order(message_path_ids(conversation_id=conversation_id, leaf_id=leaf_id))


def message_path_contents(*, conversation_id, leaf_id, skip_replies=()) -> list[dict]:
    """What the messages from the root down to `leaf_id` say, as `{"role", "content",
    "references"}` (items and references in the API shape), leaving out assistant
    replies whose status is in `skip_replies`. Read as plain values, without model
    instances, and only what that needs: a model reads the whole branch at every turn."""
    if leaf_id is None:
        return []
    tree = Message.objects.filter(conversation_id=conversation_id)
    parents, roles, skipped = {}, {}, set()
    for message_id, parent_id, role, status in tree.values_list(
        "id", "parent_id", "role", "status"
    ):
        parents[message_id], roles[message_id] = parent_id, role
        if role == Message.Role.ASSISTANT and status in skip_replies:
            skipped.add(message_id)
    # A leaf deleted meanwhile has no role: it is left out, as `message_path` leaves it.
    ids = [i for i in _root_down(parents, leaf_id) if i in roles and i not in skipped]
    contents = {message_id: {"content": [], "references": []} for message_id in ids}
    items = ContentItem.objects.filter(AnyOf(F("message_id"), ids)).order_by("index")
    for message_id, *columns in items.values_list("message_id", "type", "text", "data"):
        contents[message_id]["content"].append(item_to_dict(*columns))
    references = Reference.objects.filter(AnyOf(F("message_id"), ids)).order_by("index")
    for message_id, *columns in references.values_list(*("message_id", *REFERENCE_FIELDS)):
        contents[message_id]["references"].append(dict(zip(REFERENCE_FIELDS, columns, strict=True)))
    return [{"role": roles[message_id], **contents[message_id]} for message_id in ids]


def message_path_tail(*, conversation_id, leaf_id, limit: int) -> tuple[list[Message], bool]:
    """The last `limit` messages from the root down to `leaf_id`, with content and
    references, and whether earlier ones exist. Only these messages are loaded."""
    ids = message_path_ids(conversation_id=conversation_id, leaf_id=leaf_id)
    tail = ids[-limit:]
    return _messages_in_order(tail), len(ids) > len(tail)


def conversation_branch(*, conversation: Conversation) -> list[Message]:
    """The branch shown: root to `current_leaf`."""
    return message_path(conversation_id=conversation.id, leaf_id=conversation.current_leaf_id)


def message_previous_reply_id(*, message: Message):
    """The id of the nearest reply above `message` on its path (None: there is none),
    the response a Responses API response continued from."""
    path = message_path_ids(conversation_id=message.conversation_id, leaf_id=message.parent_id)
    replies = set(
        Message.objects.filter(id__in=path, role=Message.Role.ASSISTANT).values_list(
            "id", flat=True
        )
    )
    return next((node for node in reversed(path) if node in replies), None)


def message_subtree_ids(*, message: Message) -> list:
    """`message` and all of its descendants, parents before children."""
    children = _children_by_parent(message.conversation_id)
    ids = []
    stack = [message.id]
    while stack:
        node = stack.pop()
        ids.append(node)
        stack.extend(reversed(children.get(node, [])))
    return ids


def message_newest_leaf_id(*, message: Message):
    """The most recently created leaf under `message` (itself when it has no children)."""
    children = _children_by_parent(message.conversation_id)
    stack = [message.id]
    leaves = []
    while stack:
        node = stack.pop()
        if children.get(node):
            stack.extend(children[node])
        else:
            leaves.append(node)
    created = dict(Message.objects.filter(id__in=leaves).values_list("id", "created_at"))
    return max(leaves, key=lambda leaf: created[leaf])


def conversation_tree(*, conversation: Conversation) -> list[Message]:
    """Every message of the conversation, oldest first, with content and references."""
    return list(messages_with_content().filter(conversation=conversation))


def conversation_outline(*, conversation: Conversation, limit: int) -> tuple[list[dict], int]:
    """The whole tree to read top to bottom, for staff: parents first, siblings oldest
    first. Each row has the `message` (with content), its `level` of indentation (one more
    under a message with several children, so a plain exchange stays flat and each branch
    stands out), its `position` among its `siblings`, and whether it is `shown` (on the
    conversation's current branch). The first `limit` rows, and how many there are."""
    children = _children_by_parent(conversation.id)
    shown = set(
        message_path_ids(conversation_id=conversation.id, leaf_id=conversation.current_leaf_id)
    )

    def branches(parent_id, level):
        kids = children.get(parent_id, [])
        child_level = level + 1 if parent_id is not None and len(kids) > 1 else level
        return [
            (kid, child_level, position, len(kids))
            for position, kid in reversed(list(enumerate(kids, start=1)))
        ]

    rows, stack = [], branches(None, 0)
    while stack:
        message_id, level, position, siblings = stack.pop()
        rows.append(
            {
                "id": message_id,
                "level": level,
                "position": position,
                "siblings": siblings,
                "shown": message_id in shown,
            }
        )
        stack.extend(branches(message_id, level))
    page = rows[:limit]
    for row, message in zip(page, _messages_in_order([row["id"] for row in page]), strict=True):
        row["message"] = message
    return page, len(rows)


def conversation_hints(*, page: dict) -> list[str]:
    """Suggested first prompts, while the branch has no user message yet. `page` is the
    branch's last page: a branch longer than one page is no new conversation."""
    if page["has_more"] or any(m["role"] == Message.Role.USER for m in page["messages"]):
        return []
    return list(settings.CHAT_HINTS)


def _siblings_by_parent(messages: list[Message], conversation_id) -> dict:
    """{parent_id: [child ids, oldest first]} for the parents of `messages`, in one query
    (not the whole tree: a page of a long branch reads only its messages' siblings)."""
    parents = {message.parent_id for message in messages}
    rows = Message.objects.filter(parent_id__in=parents - {None})
    if None in parents:
        roots = Message.objects.filter(conversation_id=conversation_id, parent__isnull=True)
        rows = rows | roots
    children = defaultdict(list)
    for message_id, parent_id in rows.order_by("created_at").values_list("id", "parent_id"):
        children[parent_id].append(message_id)
    return children


def message_dicts_for_user(*, user, messages: list[Message], conversation_id=None) -> list[dict]:
    """Messages in the API shape with the user's feedback and each one's siblings.

    Two queries whatever the number of messages: the siblings and the feedback.
    """
    if not messages:
        return []
    conversation_id = conversation_id or messages[0].conversation_id
    children = _siblings_by_parent(messages, conversation_id)
    feedback = {
        row.message_id: row
        for row in Feedback.objects.filter(user=user, message_id__in=[m.id for m in messages])
    }
    result = []
    for message in messages:
        data = message_to_dict(message, rendered=True)
        data["feedback"] = feedback_to_dict(feedback.get(message.id))
        data["sibling_ids"] = [str(sibling) for sibling in children.get(message.parent_id, [])]
        result.append(data)
    return result


def conversation_branch_page(
    *, user, conversation: Conversation, before=None, limit: int = BRANCH_PAGE_SIZE
) -> dict:
    """A page of the shown branch in the API shape: `messages`, oldest first, and
    `has_more` when earlier ones exist. The page is the branch's last `limit` messages, or
    with `before` (a message of this conversation, else a 404) the `limit` messages above
    it on its path from the root: pass the first message of a page to get the one before.
    A fixed number of queries, whatever the length of the branch."""
    leaf_id = conversation.current_leaf_id
    if before is not None:
        try:
            leaf_id = Message.objects.values_list("parent_id", flat=True).get(
                conversation=conversation, id=uuid.UUID(str(before))
            )
        except (ValueError, Message.DoesNotExist):
            raise Http404("No such message in this conversation.") from None
    messages, has_more = message_path_tail(
        conversation_id=conversation.id, leaf_id=leaf_id, limit=limit
    )
    return {
        "messages": message_dicts_for_user(
            user=user, messages=messages, conversation_id=conversation.id
        ),
        "has_more": has_more,
    }


def conversation_detail(*, user, conversation: Conversation, limit: int = BRANCH_PAGE_SIZE) -> dict:
    """A conversation with the last page of its shown branch (`messages` and `has_more`,
    see `conversation_branch_page`) and its `hints`, in the API shape."""
    page = conversation_branch_page(user=user, conversation=conversation, limit=limit)
    return {**conversation_to_dict(conversation), **page, "hints": conversation_hints(page=page)}


def message_dict_for_user(*, user, message_id) -> dict:
    """One message in the API shape, with the user's feedback and its siblings."""
    message = messages_with_content().get(id=message_id)
    return message_dicts_for_user(user=user, messages=[message])[0]


def attachment_get_for_user(*, user, id) -> Attachment:
    """One of the user's uploads; anyone else's, or a malformed id, is a 404."""
    try:
        return Attachment.objects.get(owner=user, id=uuid.UUID(str(id)))
    except (ValueError, Attachment.DoesNotExist):
        raise Http404("No such attachment.") from None


def attachment_list_for_user(*, user, ids) -> QuerySet[Attachment]:
    """The user's uploads among `ids` (other ids, and malformed ones, are left out)."""
    valid = []
    for value in ids:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return Attachment.objects.filter(owner=user, id__in=valid)


def api_key_list_for_user(*, user) -> QuerySet[ApiKey]:
    """The user's API keys, newest first, revoked ones included."""
    return ApiKey.objects.filter(owner=user).order_by("-created_at")


def api_key_get_for_user(*, user, id) -> ApiKey:
    """One of the user's API keys; anyone else's, or a malformed id, is a 404."""
    try:
        return ApiKey.objects.get(owner=user, id=uuid.UUID(str(id)))
    except (ValueError, ApiKey.DoesNotExist):
        raise Http404("No such API key.") from None


def api_key_active(*, hashed_secret: str) -> ApiKey | None:
    """The unrevoked key with this hash, with its owner, if any."""
    return (
        ApiKey.objects.select_related("owner")
        .filter(hashed_secret=hashed_secret, revoked_at__isnull=True)
        .first()
    )


def api_key_to_dict(api_key: ApiKey) -> dict:
    """A key as its owner sees it: never its secret."""
    return {
        "id": str(api_key.id),
        "name": api_key.name,
        "prefix": api_key.prefix,
        "created_at": iso(api_key.created_at),
        "last_used_at": iso(api_key.last_used_at),
        "revoked_at": iso(api_key.revoked_at),
    }


def _parents_first(messages: list[Message]) -> list[Message]:
    """The tree in depth-first order, siblings oldest first: every parent before its
    children, whatever the timestamps say (imports keep theirs)."""
    children = defaultdict(list)
    for message in messages:
        children[message.parent_id].append(message)
    ordered, stack = [], list(reversed(children[None]))
    while stack:
        message = stack.pop()
        ordered.append(message)
        stack.extend(reversed(children[message.id]))
    return ordered


def conversation_export(*, conversation: Conversation) -> dict:
    """The whole tree as versioned JSON; `services.conversation_import` reads it back."""
    messages = _parents_first(conversation_tree(conversation=conversation))
    feedback = {
        row.message_id: row
        for row in Feedback.objects.filter(
            message__conversation=conversation, user_id=conversation.owner_id
        )
    }
    exported = []
    for message in messages:
        data = message_to_dict(message)
        data["feedback"] = feedback_to_dict(feedback.get(message.id))
        if data["feedback"] is not None:
            data["feedback"].pop("updated_at")
        exported.append(data)
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": iso(timezone.now()),
        "conversation": {
            key: value
            for key, value in conversation_to_dict(conversation).items()
            if key not in ("id", "updated_at")
        },
        "messages": exported,
    }


@transaction.atomic(savepoint=False)  # the session and its user read in one transaction
def session_user_id(*, session_key: str | None):
    """The id of the user the session `session_key` logs in; None once it has ended (a
    logout deletes it, expiry, a password change voids it)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return auth.get_user(SimpleNamespace(session=store(session_key))).pk
