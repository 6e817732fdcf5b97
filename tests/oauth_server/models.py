from django.db import models


class AccessTokenLifetime(models.Model):
    """An application whose access tokens live `seconds` (e.g. 2, for the tests that watch
    one expire) while the others keep the server's default."""

    application = models.OneToOneField("oauth2_provider.Application", on_delete=models.CASCADE)
    seconds = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.application_id}: {self.seconds}s"
