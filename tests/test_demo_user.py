from io import StringIO

from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command


def run_command(*args):
    out = StringIO()
    call_command("ensure_demo_user", *args, stdout=out)
    return out.getvalue()


def test_demo_user_is_created_once_and_can_log_in(db):
    first = run_command("--password", "demo-pass")
    assert "Log in as demo / demo-pass" in first
    assert authenticate(username="demo", password="demo-pass") is not None

    second = run_command("--password", "other")
    assert "exists" in second
    assert get_user_model().objects.filter(username="demo").count() == 1
    # An existing password is never overwritten.
    assert authenticate(username="demo", password="demo-pass") is not None
