"""Authenticate webhook bodies: a plain HMAC-SHA256 header, or the Standard Webhooks scheme.

Every comparison of a received signature with the expected one goes through
`hmac.compare_digest`, so the time taken does not reveal how many leading bytes matched.

Standard Webhooks (https://www.standardwebhooks.com/) signs `{id}.{timestamp}.{body}` and
sends `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
space-separated list of `v1,<base64>` entries of which any one may match (several appear while
a sender rotates its key). Secrets: `whsec_<base64>` is base64-decoded after the prefix, as
the spec writes them; any other string is used as its own UTF-8 bytes, so that a passphrase
chosen by an operator is never silently reinterpreted as base64.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final, Literal

SignatureEncoding = Literal["hex", "base64"]

STANDARD_SECRET_PREFIX: Final = "whsec_"  # noqa: S105  # a format marker, not a secret
STANDARD_VERSION: Final = "v1"
WEBHOOK_ID: Final = "webhook-id"
WEBHOOK_TIMESTAMP: Final = "webhook-timestamp"
WEBHOOK_SIGNATURE: Final = "webhook-signature"

_SHA256_SIZE: Final = hashlib.sha256().digest_size
# Unix seconds fit in 11 digits until the year 5138; longer values are refused unparsed.
_MAX_TIMESTAMP_DIGITS: Final = 11


class SignatureError(ValueError):
    """A webhook whose signature is missing, malformed, wrong or stale."""


# --- HMAC-SHA256 of the body in one header ---------------------------------------------------


def sign_hmac_sha256(
    secret: str, body: bytes, encoding: SignatureEncoding = "hex", prefix: str = ""
) -> str:
    """Return the header value a sender puts on `body`: `prefix` + the encoded HMAC-SHA256."""
    digest = _hmac_sha256(_secret_bytes(secret), body)
    if encoding == "hex":
        return prefix + digest.hex()
    return prefix + base64.b64encode(digest).decode("ascii")


def verify_hmac_sha256(
    secret: str,
    body: bytes,
    header_value: str | None,
    *,
    encoding: SignatureEncoding = "hex",
    prefix: str = "",
) -> None:
    """Raise `SignatureError` unless `header_value` is the HMAC-SHA256 of `body` under `secret`.

    The value is `prefix` (matched case-insensitively, e.g. GitHub's `sha256=`) followed by the
    digest in lower- or upper-case hex, or in standard base64.
    """
    key = _secret_bytes(secret)
    if header_value is None or not header_value.strip():
        raise SignatureError("missing signature header")
    value = header_value.strip()
    if prefix:
        if value[: len(prefix)].lower() != prefix.lower():
            raise SignatureError("malformed signature")
        value = value[len(prefix) :]
    received = _decode_digest(value, encoding)
    if received is None:
        raise SignatureError("malformed signature")
    if not hmac.compare_digest(received, _hmac_sha256(key, body)):
        raise SignatureError("signature mismatch")


# --- Standard Webhooks -----------------------------------------------------------------------


def standard_webhook_key(secret: str) -> bytes:
    """Return the HMAC key a Standard Webhooks secret stands for (see the module docstring).

    Raises `ValueError` for an empty secret or a `whsec_` secret that is not base64; settings
    can call this at load time to refuse a bad secret before the first delivery.
    """
    if not secret.startswith(STANDARD_SECRET_PREFIX):
        return _secret_bytes(secret)
    try:
        key = base64.b64decode(secret[len(STANDARD_SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign_standard_webhook(secret: str, body: bytes, webhook_id: str, timestamp: int) -> str:
    """Return the `webhook-signature` value for `body` sent as `webhook_id` at `timestamp`."""
    digest = _hmac_sha256(
        standard_webhook_key(secret), _signed_content(webhook_id, timestamp, body)
    )
    return f"{STANDARD_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify_standard_webhook(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: timedelta,
    now: datetime,
) -> str:
    """Return the `webhook-id` of a delivery whose signature and timestamp check out.

    `headers` may be aiohttp's case-insensitive headers or a plain dict in any case. The
    timestamp is checked before the signature, so a replayed delivery costs no HMAC. Raises
    `SignatureError` otherwise; `ValueError` for a naive `now` or a bad secret.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    key = standard_webhook_key(secret)
    webhook_id = _header(headers, WEBHOOK_ID)
    timestamp = _header(headers, WEBHOOK_TIMESTAMP)
    signatures = _header(headers, WEBHOOK_SIGNATURE)
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise SignatureError(f"malformed {WEBHOOK_TIMESTAMP} header")
    if abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        raise SignatureError("timestamp outside tolerance")
    expected = _hmac_sha256(key, _signed_content(webhook_id, timestamp, body))
    seen_v1 = False
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != STANDARD_VERSION:
            continue  # other schemes (v1a is asymmetric) are not ours to check
        seen_v1 = True
        received = _decode_digest(encoded, "base64")
        if received is not None and hmac.compare_digest(received, expected):
            return webhook_id
    raise SignatureError("signature mismatch" if seen_v1 else "malformed signature")


def _signed_content(webhook_id: str, timestamp: int | str, body: bytes) -> bytes:
    return f"{webhook_id}.{timestamp}.".encode() + body


def _header(headers: Mapping[str, str], name: str) -> str:
    """Return a required header; `name` is lower-case, and a plain dict may use any case."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if value is None or not value.strip():
        raise SignatureError(f"missing {name} header")
    return value.strip()


# --- shared ----------------------------------------------------------------------------------


def _secret_bytes(secret: str) -> bytes:
    if not secret:
        # An empty key is public knowledge: anyone could sign. Refuse rather than accept.
        raise ValueError("the webhook secret is empty")
    return secret.encode()


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _decode_digest(value: str, encoding: SignatureEncoding) -> bytes | None:
    """Return the 32 bytes a hex or base64 signature spells, or None if it spells no digest."""
    try:
        if encoding == "hex":
            digest = bytes.fromhex(value) if value.isascii() and value.isalnum() else b""
        else:
            digest = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None
    return digest if len(digest) == _SHA256_SIZE else None
