"""Webhook signatures: plain HMAC-SHA256 headers and Standard Webhooks, good then hostile."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from multidict import CIMultiDict

from gateway.ingest.signatures import (
    SignatureError,
    sign_hmac_sha256,
    sign_standard_webhook,
    standard_webhook_key,
    verify_hmac_sha256,
    verify_standard_webhook,
)

SECRET = "s3cr3t-shared-with-the-sender"
BODY = b'{"action":"order.failed","order":{"id":42}}'
HEX = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
B64 = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode()


HMAC_GOOD: dict[str, tuple[str, dict[str, Any]]] = {
    "lower-case hex": (HEX, {}),
    "upper-case hex": (HEX.upper(), {}),
    "surrounding spaces": (f"  {HEX} ", {}),
    "prefix": (f"sha256={HEX}", {"prefix": "sha256="}),
    "prefix in other case": (f"SHA256={HEX}", {"prefix": "sha256="}),
    "base64": (B64, {"encoding": "base64"}),
    "base64 with prefix": (f"sha256={B64}", {"encoding": "base64", "prefix": "sha256="}),
}

HMAC_HOSTILE: dict[str, tuple[str | None, dict[str, Any], str]] = {
    "missing header": (None, {}, "missing signature header"),
    "empty header": ("", {}, "missing signature header"),
    "blank header": ("   ", {}, "missing signature header"),
    "missing prefix": (HEX, {"prefix": "sha256="}, "malformed signature"),
    "wrong prefix": (f"sha1={HEX}", {"prefix": "sha256="}, "malformed signature"),
    "not hex": ("z" * 64, {}, "malformed signature"),
    "hex too short": (HEX[:-2], {}, "malformed signature"),
    "hex too long": (HEX + "00", {}, "malformed signature"),
    "hex with inner spaces": (" ".join([HEX[:32], HEX[32:]]), {}, "malformed signature"),
    "non-ASCII digits": ("٣" * 64, {}, "malformed signature"),
    "base64 expected, hex given": (HEX, {"encoding": "base64"}, "malformed signature"),
    "base64 of the wrong length": (
        base64.b64encode(b"x" * 31).decode(),
        {"encoding": "base64"},
        "malformed signature",
    ),
    "invalid base64": ("!!!not-base64!!!", {"encoding": "base64"}, "malformed signature"),
    "digest of another secret": (
        hmac.new(b"other", BODY, hashlib.sha256).hexdigest(),
        {},
        "signature mismatch",
    ),
    "digest of another body": (
        hmac.new(SECRET.encode(), BODY + b" ", hashlib.sha256).hexdigest(),
        {},
        "signature mismatch",
    ),
    "base64 of another body": (
        base64.b64encode(hmac.new(SECRET.encode(), b"{}", hashlib.sha256).digest()).decode(),
        {"encoding": "base64"},
        "signature mismatch",
    ),
}


class TestHmacSha256:
    @pytest.mark.parametrize(("header", "options"), HMAC_GOOD.values(), ids=HMAC_GOOD.keys())
    def test_good_signatures(self, header: str, options: dict[str, Any]) -> None:
        """A correct digest passes in either case, encoding and with its prefix."""
        verify_hmac_sha256(SECRET, BODY, header, **options)

    @pytest.mark.parametrize(
        ("header", "options", "message"), HMAC_HOSTILE.values(), ids=HMAC_HOSTILE.keys()
    )
    def test_hostile_signatures(
        self, header: str | None, options: dict[str, Any], message: str
    ) -> None:
        """Missing, malformed and wrong signatures each raise their own reason."""
        with pytest.raises(SignatureError) as caught:
            verify_hmac_sha256(SECRET, BODY, header, **options)
        assert str(caught.value) == message

    @pytest.mark.parametrize("encoding", ["hex", "base64"])
    def test_sign_then_verify(self, encoding: Any) -> None:
        """What sign_hmac_sha256 produces, verify_hmac_sha256 accepts."""
        header = sign_hmac_sha256(SECRET, BODY, encoding, "sha256=")
        assert header.startswith("sha256=")
        verify_hmac_sha256(SECRET, BODY, header, encoding=encoding, prefix="sha256=")

    def test_sign_matches_a_plain_hmac(self) -> None:
        """The hex form is the standard library's hexdigest."""
        assert sign_hmac_sha256(SECRET, BODY) == HEX

    def test_empty_secret_is_refused(self) -> None:
        """An empty secret is a configuration error, never a passing check."""
        empty_hex = hmac.new(b"", BODY, hashlib.sha256).hexdigest()
        with pytest.raises(ValueError, match="empty"):
            verify_hmac_sha256("", BODY, empty_hex)


# The example published with the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)
TOLERANCE = timedelta(minutes=5)


def spec_headers(**overrides: str | None) -> dict[str, str]:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    headers.update(overrides)  # type: ignore[arg-type]
    return {name: value for name, value in headers.items() if value is not None}


def signed_at(timestamp: int, secret: str = SPEC_SECRET, body: bytes = SPEC_BODY) -> dict[str, str]:
    return spec_headers(
        **{
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_standard_webhook(secret, body, SPEC_ID, timestamp),
        }
    )


OTHER_SECRET = "whsec_" + base64.b64encode(b"another key, 24+ bytes long").decode()


STANDARD_GOOD: dict[str, tuple[str, bytes, Any]] = {
    "the specification's example": (SPEC_SECRET, SPEC_BODY, spec_headers()),
    "headers in any case": (
        SPEC_SECRET,
        SPEC_BODY,
        {
            "Webhook-Id": SPEC_ID,
            "WEBHOOK-TIMESTAMP": str(SPEC_TIMESTAMP),
            "Webhook-Signature": SPEC_SIGNATURE,
        },
    ),
    "aiohttp's case-insensitive headers": (
        SPEC_SECRET,
        SPEC_BODY,
        CIMultiDict(
            {
                "Webhook-Id": SPEC_ID,
                "Webhook-Timestamp": str(SPEC_TIMESTAMP),
                "Webhook-Signature": SPEC_SIGNATURE,
            }
        ),
    ),
    "several signatures, one valid": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(
            **{
                "webhook-signature": (
                    "v1,"
                    + base64.b64encode(b"\0" * 32).decode()
                    + " v1a,c29tZS1hc3ltbWV0cmljLXNpZw== "
                    + SPEC_SIGNATURE
                    + " v1,not-base64!"
                )
            }
        ),
    ),
    "a secret without the prefix is its own bytes": (
        "a passphrase, not base64",
        SPEC_BODY,
        spec_headers(
            **{
                "webhook-signature": sign_standard_webhook(
                    "a passphrase, not base64", SPEC_BODY, SPEC_ID, SPEC_TIMESTAMP
                )
            }
        ),
    ),
    "timestamp exactly at the tolerance, past": (
        SPEC_SECRET,
        SPEC_BODY,
        signed_at(SPEC_TIMESTAMP - 300),
    ),
    "timestamp exactly at the tolerance, future": (
        SPEC_SECRET,
        SPEC_BODY,
        signed_at(SPEC_TIMESTAMP + 300),
    ),
}

STANDARD_HOSTILE: dict[str, tuple[str, bytes, dict[str, str], str]] = {
    "wrong secret": (OTHER_SECRET, SPEC_BODY, spec_headers(), "signature mismatch"),
    "tampered body": (SPEC_SECRET, SPEC_BODY + b" ", spec_headers(), "signature mismatch"),
    "tampered id": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-id": "msg_other"}),
        "signature mismatch",
    ),
    "signature of another timestamp": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-timestamp": str(SPEC_TIMESTAMP + 1)}),
        "signature mismatch",
    ),
    "expired": (SPEC_SECRET, SPEC_BODY, signed_at(SPEC_TIMESTAMP - 301), "outside tolerance"),
    "from the future": (
        SPEC_SECRET,
        SPEC_BODY,
        signed_at(SPEC_TIMESTAMP + 301),
        "timestamp outside tolerance",
    ),
    "missing id": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-id": None}),
        "missing webhook-id header",
    ),
    "missing timestamp": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-timestamp": None}),
        "missing webhook-timestamp header",
    ),
    "missing signature": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-signature": None}),
        "missing webhook-signature header",
    ),
    "empty signature": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-signature": " "}),
        "missing webhook-signature header",
    ),
    "timestamp not a number": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-timestamp": "yesterday"}),
        "malformed webhook-timestamp header",
    ),
    "negative timestamp": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-timestamp": "-1614265330"}),
        "malformed webhook-timestamp header",
    ),
    "timestamp in other digits": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-timestamp": "١٦١٤٢٦٥٣٣٠"}),
        "malformed webhook-timestamp header",
    ),
    "absurdly long timestamp": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-timestamp": "9" * 400}),
        "malformed webhook-timestamp header",
    ),
    "no v1 entry": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-signature": "v2,abc v1a,def"}),
        "malformed signature",
    ),
    "v1 entries that are not signatures": (
        SPEC_SECRET,
        SPEC_BODY,
        spec_headers(**{"webhook-signature": "v1, v1,%%% v1,AAAA"}),
        "signature mismatch",
    ),
}


class TestStandardWebhooks:
    @pytest.mark.parametrize(
        ("secret", "body", "headers"), STANDARD_GOOD.values(), ids=STANDARD_GOOD.keys()
    )
    def test_good_deliveries(self, secret: str, body: bytes, headers: Any) -> None:
        """A delivery signed with the secret, within the tolerance, returns its webhook-id."""
        assert (
            verify_standard_webhook(secret, body, headers, tolerance=TOLERANCE, now=NOW) == SPEC_ID
        )

    @pytest.mark.parametrize(
        ("secret", "body", "headers", "message"),
        STANDARD_HOSTILE.values(),
        ids=STANDARD_HOSTILE.keys(),
    )
    def test_hostile_deliveries(
        self, secret: str, body: bytes, headers: dict[str, str], message: str
    ) -> None:
        """Wrong, stale, incomplete or malformed deliveries each raise their own reason."""
        with pytest.raises(SignatureError, match=message):
            verify_standard_webhook(secret, body, headers, tolerance=TOLERANCE, now=NOW)

    def test_sign_reproduces_the_specification_example(self) -> None:
        """Signing the spec's example gives the spec's signature."""
        assert sign_standard_webhook(SPEC_SECRET, SPEC_BODY, SPEC_ID, SPEC_TIMESTAMP) == (
            SPEC_SIGNATURE
        )

    def test_naive_now_is_refused(self) -> None:
        """A clock without a timezone would shift the tolerance window; it is refused."""
        with pytest.raises(ValueError, match="timezone-aware"):
            verify_standard_webhook(
                SPEC_SECRET, SPEC_BODY, spec_headers(), tolerance=TOLERANCE, now=datetime.now()
            )

    @pytest.mark.parametrize("secret", ["", "whsec_", "whsec_***not base64***"])
    def test_bad_secrets_are_configuration_errors(self, secret: str) -> None:
        """An empty or undecodable secret raises ValueError, not a signature failure."""
        with pytest.raises(ValueError) as caught:
            standard_webhook_key(secret)
        assert not isinstance(caught.value, SignatureError)

    def test_secret_forms(self) -> None:
        """whsec_ secrets are base64 after the prefix; other secrets are their UTF-8 bytes."""
        assert standard_webhook_key("whsec_" + base64.b64encode(b"key").decode()) == b"key"
        assert standard_webhook_key("plain") == b"plain"
