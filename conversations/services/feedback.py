"""Ratings of replies: one per user and reply, kept for the admin's review and export."""

from django.db import transaction

from ..errors import InvalidFeedback
from ..models import Feedback, Message
from ..serialization import storable
from .locking import lock_message


@transaction.atomic
def feedback_set(
    *, message: Message, user, rating: str, comment: str = "", reasons: list | None = None
) -> Feedback:
    """Rate a reply (one rating per user and message; a new one replaces it)."""
    if message.role != Message.Role.ASSISTANT:
        raise InvalidFeedback("Only assistant replies can be rated.")
    if rating not in Feedback.Rating.values:
        raise InvalidFeedback('rating must be "good" or "bad".')
    reasons = list(reasons or [])
    if not all(isinstance(reason, str) for reason in reasons) or len(reasons) > 20:
        raise InvalidFeedback("reasons must be a list of at most 20 strings.")
    if not isinstance(comment, str) or len(comment) > 10_000:
        raise InvalidFeedback("comment must be a string of at most 10,000 characters.")
    lock_message(message)  # a reply deleted meanwhile is not rated: a 404
    feedback, _ = Feedback.objects.update_or_create(
        message=message,
        user=user,
        defaults={
            "rating": rating,
            "comment": storable(comment),
            "reasons": storable(reasons),
            "model": message.model,
        },
    )
    return feedback


def feedback_clear(*, message: Message, user) -> None:
    """Take back `user`'s rating of a reply."""
    Feedback.objects.filter(message=message, user=user).delete()


def feedback_delete(*, feedback: Feedback) -> None:
    """Remove one rating (staff, from the admin)."""
    feedback_clear(message=feedback.message, user=feedback.user)
