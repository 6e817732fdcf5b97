import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management.base import BaseCommand, CommandError, CommandParser
from oauth2_provider.models import get_application_model

from tests.oauth_server.models import ServiceAccount

PROJECT = "warmup-tests"


class Command(BaseCommand):
    help = (
        "Registers a Google-style service account with domain-wide delegation to the given "
        "domains: makes an RSA key pair, keeps the public key, and prints the service "
        "account's JSON key (Google's format, the private key in it) for the caller alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the account's id: NAME@PROJECT.iam.gserviceaccount.com")
        parser.add_argument("--domain", action="append", required=True, dest="domains")
        parser.add_argument("--token-uri", default="", help="the server's /o/token/ URL")

    def handle(self, *args: Any, name: str, domains: list[str], **options: Any) -> None:
        client_email = f"{name}@{PROJECT}.iam.gserviceaccount.com"
        if ServiceAccount.objects.filter(client_email=client_email).exists():
            raise CommandError(f"{client_email} exists")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        Application = get_application_model()
        # The account's application only names the tokens' client (introspection's
        # client_id, Google's numeric "Client ID"); its secret is never shown, so the account
        # has no way in but its signed assertions.
        application = Application.objects.create(
            name=f"service account {name}",
            client_id=str(secrets.randbelow(10**21)).rjust(21, "1"),
            client_secret=secrets.token_hex(24),
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
        account = ServiceAccount.objects.create(
            application=application,
            client_email=client_email,
            key_id=secrets.token_hex(20),
            public_key=key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            domains=sorted({domain.lower() for domain in domains}),
        )
        private_key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.stdout.write(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": PROJECT,
                    "private_key_id": account.key_id,
                    "private_key": private_key,
                    "client_email": client_email,
                    "client_id": application.client_id,
                    "token_uri": options["token_uri"],
                }
            )
        )
