"""A keyrings.alt file keyring encrypted with a passphrase, for hosts without an OS keyring.

Built on ``keyrings.alt.file_base.Keyring`` (the same file format and locking-free layout as
keyrings.alt's own file keyrings) with the cipher from ``cryptography``: scrypt derives a key
from the passphrase and a per-entry salt, AES-GCM encrypts and authenticates the entry with the
service and user name as associated data, so an entry cannot be moved to another name or
altered without the passphrase.
"""

from __future__ import annotations

import os

from keyrings.alt.file_base import Keyring

_MAGIC = b"aic1"
_SALT = 16
_NONCE = 12


class WrongPassphrase(Exception):
    """Decryption failed: wrong passphrase, or an entry was altered."""


class EncryptedFileKeyring(Keyring):
    """File keyring whose entries are ``aic1 | salt | nonce | AES-GCM(ciphertext+tag)``."""

    filename = "secrets.enc.cfg"
    scheme = "[scrypt] AES-256-GCM"
    version = "1.0"
    priority = 0.1  # never picked by keyring's auto-detection; we construct it ourselves

    def __init__(self, passphrase: str) -> None:
        super().__init__()
        if not passphrase:
            raise ValueError("empty passphrase")
        self._passphrase = passphrase.encode("utf-8")

    def _key(self, salt: bytes) -> bytes:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(self._passphrase)

    def encrypt(self, password: bytes, assoc: bytes | None = None) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
        return _MAGIC + salt + nonce + AESGCM(self._key(salt)).encrypt(nonce, password, assoc)

    def decrypt(self, password_encrypted: bytes, assoc: bytes | None = None) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not password_encrypted.startswith(_MAGIC):
            raise WrongPassphrase("not an aiconsole encrypted entry")
        body = password_encrypted[len(_MAGIC):]
        salt, nonce, sealed = body[:_SALT], body[_SALT:_SALT + _NONCE], body[_SALT + _NONCE:]
        try:
            return AESGCM(self._key(salt)).decrypt(nonce, sealed, assoc)
        except InvalidTag:
            # Not a ValueError on purpose: keyrings.alt retries ValueErrors without the
            # associated data, which would weaken the binding of entry to name.
            raise WrongPassphrase("wrong passphrase or altered entry") from None
