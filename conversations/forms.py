"""The login forms: Django's, throttled by conversations.login_throttle."""

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from . import login_throttle


class ThrottledLoginMixin:
    """Refuses any password while the account or the client's address is locked, and
    counts the logins that fail for a wrong username or password."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        # The client's address as the server saw it (behind a proxy: see the README's
        # "Production" for uvicorn's --proxy-headers).
        ip = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        wait = login_throttle.login_wait(username=username, ip=ip)
        if wait > 0:
            minutes = math.ceil(wait / 60)
            raise ValidationError(
                f"Too many failed attempts; try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}.",
                code="throttled",
            )
        try:
            cleaned_data = super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                login_throttle.login_failure_record(username=username, ip=ip)
            raise
        login_throttle.login_success_record(username=username)
        return cleaned_data


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password did not match. Please try again.",
    }


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
