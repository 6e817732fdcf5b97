import json
import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from oauth2_provider.models import get_application_model

from tests.oauth_server.models import AccessTokenLifetime


class Command(BaseCommand):
    help = (
        "Registers an application and prints it as JSON: client_id and the client secret in "
        "clear (stored hashed, as a real server keeps it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--grant",
            choices=["authorization-code", "client-credentials"],
            default="authorization-code",
        )
        parser.add_argument("--redirect-uri", action="append", default=[])
        parser.add_argument("--public", action="store_true", help="no secret (PKCE alone)")
        parser.add_argument("--skip-consent", action="store_true")
        parser.add_argument("--access-token-seconds", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        Application = get_application_model()
        # Letters and digits only: Dovecot reads the resource server's as URL userinfo.
        secret = "" if options["public"] else secrets.token_hex(24)
        application = Application.objects.create(
            name=options["name"],
            client_id=secrets.token_hex(12),
            client_secret=secret,
            client_type=(
                Application.CLIENT_PUBLIC if options["public"] else Application.CLIENT_CONFIDENTIAL
            ),
            authorization_grant_type=options["grant"],
            redirect_uris=" ".join(options["redirect_uri"]),
            skip_authorization=options["skip_consent"],
            algorithm=Application.RS256_ALGORITHM,
        )
        if options["access_token_seconds"] is not None:
            AccessTokenLifetime.objects.create(
                application=application, seconds=options["access_token_seconds"]
            )
        self.stdout.write(json.dumps({"client_id": application.client_id, "secret": secret}))
