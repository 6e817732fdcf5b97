from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from oauth2_provider.models import get_application_model

from tests.oauth_server.models import MailboxPermission


class Command(BaseCommand):
    help = (
        "Exchange Online's Add-MailboxPermission for an application: its app-only tokens "
        "(client credentials) may log in to ADDRESS (views.py tells the resource servers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument("address")
        parser.add_argument("--revoke", action="store_true", help="Remove-MailboxPermission")

    def handle(self, *args: Any, client_id: str, address: str, **options: Any) -> None:
        application = get_application_model().objects.filter(client_id=client_id).first()
        if application is None:
            raise CommandError(f"no application {client_id}")
        if options["revoke"]:
            MailboxPermission.objects.filter(application=application, address=address).delete()
        else:
            MailboxPermission.objects.get_or_create(application=application, address=address)
