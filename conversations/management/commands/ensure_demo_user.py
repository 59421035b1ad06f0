import os

from django.core.management.base import BaseCommand

from conversations.services import user_ensure_demo


class Command(BaseCommand):
    help = "Create the demo login for local use if it is missing, and print its credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_USERNAME", "demo"))
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "demo"))

    def handle(self, *args, username, password, **options):
        _, created = user_ensure_demo(username=username, password=password)
        if created:
            self.stdout.write(f"Created the demo user. Log in as {username} / {password}")
        else:
            self.stdout.write(
                f"Demo user {username!r} exists (password {password!r} unless you changed it)."
            )
