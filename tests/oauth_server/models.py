from django.db import models


class AccessTokenLifetime(models.Model):
    """An application whose access tokens live `seconds` (e.g. 2, for the tests that watch
    one expire) while the others keep the server's default."""

    application = models.OneToOneField("oauth2_provider.Application", on_delete=models.CASCADE)
    seconds = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.application_id}: {self.seconds}s"


class ServiceAccount(models.Model):
    """Google's service account with domain-wide delegation: an application (its client_id
    is the account's "Client ID", as in Google's admin console) holding the PUBLIC half of
    an RSA key, named `key_id` (the JSON key's private_key_id, the JWT header's kid), and the
    domains a Workspace admin delegated to it: it may act as any user of those domains."""

    application = models.OneToOneField("oauth2_provider.Application", on_delete=models.CASCADE)
    client_email = models.CharField(max_length=254, unique=True)
    key_id = models.CharField(max_length=64)
    public_key = models.TextField()  # PEM, SubjectPublicKeyInfo
    domains = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.client_email


class MailboxPermission(models.Model):
    """Exchange Online's Add-MailboxPermission for an application's service principal: the
    application may log in to `address` (IMAP/SMTP XOAUTH2 `user=`) with an app-only token
    (client credentials), which names no user of its own."""

    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE)
    address = models.CharField(max_length=254)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "address"], name="one_grant_per_mailbox")
        ]

    def __str__(self) -> str:
        return f"{self.application_id} → {self.address}"


class TokenRequest(models.Model):
    """A request to the token endpoint, as it arrived: how a test counts the refreshes a
    client asked for (the server may answer concurrent refreshes of one refresh token
    with one new token, so the tokens issued do not tell)."""

    client_id = models.CharField(max_length=100, db_index=True)
    grant_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.client_id}: {self.grant_type}"
