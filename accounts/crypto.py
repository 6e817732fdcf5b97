"""Encryption of mailbox secrets at rest: MultiFernet over the keys of
WARMUP_SECRET_KEYS (newest first: the first encrypts, every key decrypts)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(Exception):
    """A secret cannot be encrypted or decrypted. The message never holds the secret."""


class MissingSecretKeyError(SecretError):
    pass


class UndecryptableSecretError(SecretError):
    pass


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise MissingSecretKeyError(
            "WARMUP_SECRET_KEYS is not set: mailbox secrets cannot be encrypted or decrypted."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise MissingSecretKeyError(
            "WARMUP_SECRET_KEYS holds a value that is not a Fernet key (see warmup.E006)."
        ) from None


def current_fernet() -> MultiFernet:
    return _fernet_for(settings.WARMUP.secret_keys)


def encrypt(plaintext: str) -> str:
    """Ciphertext for `plaintext`; the empty string stays empty ("no password set")."""
    if not plaintext:
        return ""
    return current_fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, what: str) -> str:
    """Plaintext of `token`. `what` names the secret in errors, e.g. "SMTP password of
    mailbox 12"; the error never contains the token or the plaintext."""
    if not token:
        return ""
    try:
        return current_fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecretError(
            f"cannot decrypt the {what} with any key of WARMUP_SECRET_KEYS: the key it was "
            "encrypted with is missing (rotated away too early?) or the stored value is corrupt."
        ) from None


def rotate(token: str, *, what: str) -> str:
    """`token` re-encrypted under the newest key."""
    if not token:
        return ""
    try:
        return current_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecretError(
            f"cannot re-encrypt the {what}: no key of WARMUP_SECRET_KEYS decrypts it."
        ) from None
