"""Logins the application makes itself."""

from django.contrib.auth import get_user_model


def user_ensure_demo(*, username: str, password: str) -> tuple:
    """Create the demo login unless it exists; returns (user, created)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created
