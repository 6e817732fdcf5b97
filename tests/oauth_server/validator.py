from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class MailValidator(OAuth2Validator):
    """ID tokens carry the address the way Google's (`email`) and Microsoft's
    (`preferred_username`) do; a user's username is the mailbox address."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "preferred_username": "openid"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        address = request.user.get_username()
        return {"email": address, "email_verified": True, "preferred_username": address}
