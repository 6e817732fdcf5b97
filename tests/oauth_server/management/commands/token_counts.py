import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.oauth_server.models import TokenRequest


class Command(BaseCommand):
    help = (
        "Prints as JSON what the server issued to a user: refresh tokens (one per code "
        "exchanged plus one per refresh, since each refresh rotates it), how many of them "
        "are revoked, and the access tokens still stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--client", help="also count this client's refresh requests")

    def handle(self, *args: Any, username: str, client: str | None, **options: Any) -> None:
        refresh = get_refresh_token_model().objects.filter(user__username=username)
        counts = {
            "refresh_tokens": refresh.count(),
            "revoked_refresh_tokens": refresh.exclude(revoked=None).count(),
            "access_tokens": get_access_token_model()
            .objects.filter(user__username=username)
            .count(),
        }
        if client:
            counts["refresh_requests"] = TokenRequest.objects.filter(
                client_id=client, grant_type="refresh_token"
            ).count()
        self.stdout.write(json.dumps(counts))
