import pytest
from django.http import Http404

from conversations import selectors
from tests.factories import make_conversation, make_message


@pytest.fixture
def tree(alice):
    """u1 -> a1 -> u2 -> a2, with an edit u2' -> a2' and a reset a1' beside a1."""
    conversation = make_conversation(alice, title="Tree")
    u1 = make_message(conversation, role="user", text="first question")
    a1 = make_message(conversation, u1, role="assistant", text="first answer")
    u2 = make_message(conversation, a1, role="user", text="second question")
    a2 = make_message(conversation, u2, role="assistant", text="second answer")
    u2_edit = make_message(conversation, a1, role="user", text="second question, edited")
    a2_edit = make_message(conversation, u2_edit, role="assistant", text="edited answer")
    a1_reset = make_message(conversation, u1, role="assistant", text="first answer again")
    conversation.current_leaf = a2
    conversation.save()
    return {
        "conversation": conversation,
        "u1": u1,
        "a1": a1,
        "u2": u2,
        "a2": a2,
        "u2_edit": u2_edit,
        "a2_edit": a2_edit,
        "a1_reset": a1_reset,
    }


def test_branch_is_the_path_from_root_to_current_leaf(tree):
    branch = selectors.conversation_branch(conversation=tree["conversation"])
    assert [m.id for m in branch] == [tree[k].id for k in ("u1", "a1", "u2", "a2")]
    assert [m.content.all()[0].text for m in branch] == [
        "first question",
        "first answer",
        "second question",
        "second answer",
    ]


def test_path_never_includes_sibling_branches(tree):
    path = selectors.message_path(
        conversation_id=tree["conversation"].id, leaf_id=tree["a2_edit"].id
    )
    assert [m.id for m in path] == [tree[k].id for k in ("u1", "a1", "u2_edit", "a2_edit")]


def test_empty_conversation_has_an_empty_branch(alice):
    conversation = make_conversation(alice)
    assert selectors.conversation_branch(conversation=conversation) == []


def sibling_ids(user, message) -> list[str]:
    """The `sibling_ids` the API shows for `message`."""
    return selectors.message_dict_for_user(user=user, message_id=message.id)["sibling_ids"]


def test_siblings_share_a_parent_oldest_first(tree, alice):
    assert sibling_ids(alice, tree["u2_edit"]) == [str(tree["u2"].id), str(tree["u2_edit"].id)]
    assert sibling_ids(alice, tree["a1"]) == [str(tree["a1"].id), str(tree["a1_reset"].id)]
    assert sibling_ids(alice, tree["u1"]) == [str(tree["u1"].id)]


def test_subtree_holds_the_message_and_every_descendant(tree):
    ids = selectors.message_subtree_ids(message=tree["a1"])
    assert set(ids) == {tree[k].id for k in ("a1", "u2", "a2", "u2_edit", "a2_edit")}
    assert ids[0] == tree["a1"].id
    assert selectors.message_subtree_ids(message=tree["a2"]) == [tree["a2"].id]


def test_newest_leaf_under_a_message_is_where_its_latest_branch_ends(tree):
    assert selectors.message_newest_leaf_id(message=tree["a1"]) == tree["a2_edit"].id
    assert selectors.message_newest_leaf_id(message=tree["u2"]) == tree["a2"].id
    assert selectors.message_newest_leaf_id(message=tree["a1_reset"]) == tree["a1_reset"].id


def test_branch_reads_take_a_constant_number_of_queries(tree, django_assert_num_queries):
    conversation = tree["conversation"]
    with django_assert_num_queries(4):
        selectors.conversation_branch(conversation=conversation)
    for _ in range(20):
        leaf = make_message(conversation, conversation.current_leaf, text="more")
        conversation.current_leaf = leaf
    conversation.save()
    with django_assert_num_queries(4):
        branch = selectors.conversation_branch(conversation=conversation)
    assert len(branch) == 24


def test_another_users_conversation_is_not_found(tree, bob, alice):
    conversation_id = tree["conversation"].id
    assert selectors.conversation_get_for_user(user=alice, id=conversation_id)
    with pytest.raises(Http404):
        selectors.conversation_get_for_user(user=bob, id=conversation_id)
    with pytest.raises(Http404):
        selectors.conversation_get_for_user(user=alice, id="not-a-uuid")
    with pytest.raises(Http404):
        selectors.message_get_for_user(user=bob, id=tree["a1"].id)
