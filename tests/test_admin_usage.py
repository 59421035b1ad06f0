"""The admin's model, quota and usage pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.models import ModelOption, TokenUsage, UserQuota


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_model_options_page_lists_what_the_provider_offers(staff_client, fake_openai):
    fake_openai.models = ["fake-model", "big-model"]
    ModelOption.objects.create(model="big-model", display_name="Big", is_default=True)

    body = staff_client.get(reverse("admin:conversations_modeloption_changelist")).content.decode()

    assert "The provider lists: fake-model, big-model" in body
    assert "Big" in body


def test_a_second_default_model_is_refused(staff_client):
    ModelOption.objects.create(model="one", is_default=True)

    response = staff_client.post(
        reverse("admin:conversations_modeloption_add"),
        {"model": "two", "display_name": "", "position": 0, "enabled": "on", "is_default": "on"},
    )

    assert response.status_code == 200  # the form again, with the error
    assert not ModelOption.objects.filter(model="two").exists()


def test_the_user_page_sets_a_users_own_quota(staff_client, alice):
    url = reverse("admin:auth_user_change", args=[alice.id])
    assert "token_quota-0-daily_tokens" in staff_client.get(url).content.decode()
    joined = timezone.localtime(alice.date_joined)

    response = staff_client.post(
        url,
        {
            "username": "alice",
            "is_active": "on",
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
            "token_quota-TOTAL_FORMS": "1",
            "token_quota-INITIAL_FORMS": "0",
            "token_quota-MIN_NUM_FORMS": "0",
            "token_quota-MAX_NUM_FORMS": "1",
            "token_quota-0-daily_tokens": "5000",
            "token_quota-0-user": str(alice.id),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert UserQuota.objects.get(user=alice).daily_tokens == 5000


def test_usage_per_user_follows_the_date_filter(staff_client, alice, bob, settings):
    settings.CHAT_DAILY_TOKEN_QUOTA = 900
    now = timezone.now()
    TokenUsage.objects.create(user=alice, model="m", input_tokens=10, output_tokens=5)
    TokenUsage.objects.create(user=alice, model="m", input_tokens=1, output_tokens=1)
    TokenUsage.objects.create(
        user=bob, model="m", input_tokens=70, output_tokens=7, created_at=now - timedelta(days=10)
    )
    url = reverse("admin:conversations_tokenusage_changelist")
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)

    everything = staff_client.get(url).context["usage_by_user"]
    this_day = staff_client.get(
        url,
        {"created_at__gte": str(midnight), "created_at__lt": str(midnight + timedelta(days=1))},
    ).context["usage_by_user"]

    assert [(row["username"], row["total_tokens"]) for row in everything] == [
        ("bob", 77),
        ("alice", 17),
    ]
    assert [
        (r["username"], r["total_tokens"], r["replies"], r["daily_quota"]) for r in this_day
    ] == [("alice", 17, 2, 900)]
