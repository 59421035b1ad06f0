"""Dates as people read them, for pages whose script then shows them in the reader's
own time zone and language."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from ..serialization import iso

register = template.Library()


@register.filter
def readable_time(value):
    """A `<time>` element for a datetime (or its ISO text): the machine-readable instant in
    `datetime`, and as its text the server's reading, e.g. "29 Nov 2026, 14:05 UTC"."""
    moment = value if isinstance(value, datetime) else parse_datetime(str(value or ""))
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    text = f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    return format_html('<time datetime="{}">{}</time>', iso(moment), text)
