from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Creates a user (or sets its password): its username is the mailbox address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("password")

    def handle(self, *args: Any, username: str, password: str, **options: Any) -> None:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
