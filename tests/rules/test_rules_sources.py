"""Webhook sources: signatures, secrets from the environment, disabled sources, names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rules.engine import SignatureSpec, WebhookSource

SOURCES = """\
version: 1
sources:
  shop:
    event_field: type
    signature:
      scheme: hmac-sha256
      secret: ${SHOP_SECRET}
      header: X-Shop-Signature
      encoding: base64
      prefix: "sha256="
  monitor:
    format: alertmanager
    signature: {scheme: standard-webhooks, secret: "${MONITOR_SECRET}", tolerance: 2m}
  open: {}
rules: []
"""


class TestEnabledSources:
    def test_sources_with_their_secrets_set_are_enabled(self, load: Any) -> None:
        """A source whose secret variable is set is enabled with its signature settings."""
        ruleset = load(SOURCES, {"SHOP_SECRET": "s1", "MONITOR_SECRET": "whsec_abc"})
        assert dict(ruleset.sources) == {
            "shop": WebhookSource(
                "shop",
                "json",
                SignatureSpec("hmac-sha256", "s1", "X-Shop-Signature", "base64", "sha256="),
                "type",
            ),
            "monitor": WebhookSource(
                "monitor",
                "alertmanager",
                SignatureSpec("standard-webhooks", "whsec_abc", tolerance=timedelta(minutes=2)),
                None,
            ),
            "open": WebhookSource("open", "json", None, None),
        }
        assert ruleset.disabled_sources == {}
        assert ruleset.warnings == []

    def test_signature_defaults(self, load: Any) -> None:
        """Unstated signature settings take their defaults."""
        ruleset = load(
            """\
            version: 1
            sources:
              shop: {signature: {scheme: hmac-sha256, secret: "${S}"}}
            rules: []
            """,
            {"S": "x"},
        )
        assert ruleset.sources["shop"].signature == SignatureSpec(
            scheme="hmac-sha256",
            secret="x",
            header="X-Signature",
            encoding="hex",
            prefix="",
            tolerance=timedelta(minutes=5),
        )

    def test_secret_is_not_in_repr(self) -> None:
        """A signature's repr does not show its secret."""
        assert "hunter2" not in repr(SignatureSpec("hmac-sha256", "hunter2"))


class TestDisabledSources:
    def test_unset_secrets_disable_their_sources(self, load: Any) -> None:
        """With no variables set the file loads; signed sources are disabled, with warnings."""
        ruleset = load(SOURCES, {})
        assert list(ruleset.sources) == ["open"]
        assert ruleset.disabled_sources == {
            "shop": "secret ${SHOP_SECRET} is not set",
            "monitor": "secret ${MONITOR_SECRET} is not set",
        }
        assert [str(w) for w in ruleset.warnings] == [
            'rules.yaml:7:15: warning: source "shop" is disabled: secret ${SHOP_SECRET} is not set',
            'rules.yaml:13:52: warning: source "monitor" is disabled: '
            "secret ${MONITOR_SECRET} is not set",
        ]

    def test_empty_secret_disables_too(self, load: Any) -> None:
        """A variable set to an empty string is no secret."""
        ruleset = load(SOURCES, {"SHOP_SECRET": "", "MONITOR_SECRET": "m"})
        assert sorted(ruleset.sources) == ["monitor", "open"]
        assert list(ruleset.disabled_sources) == ["shop"]

    def test_rules_may_name_a_disabled_source(self, load: Any) -> None:
        """A disabled source is still defined: rules and tests may refer to it."""
        ruleset = load(
            """\
            version: 1
            sources:
              shop: {signature: {scheme: hmac-sha256, secret: "${S}"}}
            rules:
              - {name: a, source: shop, match: {}, resolve: {fingerprint: f}}
            tests:
              - {name: t, source: shop, event: {}, expect: [{resolve: {fingerprint: f}}]}
            """
        )
        assert "shop" in ruleset.disabled_sources
        assert ruleset.evaluate({}, source="shop").matched_rules == ["a"]


class TestSourceErrors:
    @pytest.mark.parametrize("secret", ["hunter2", '"${S:-hunter2}"', '"x${S}"', "1234567"])
    def test_secret_must_come_from_the_environment(self, errors: Any, secret: str) -> None:
        """A secret written in the file is an error that does not repeat the secret."""
        reported = errors(
            "version: 1\n"
            "sources:\n"
            f"  shop: {{signature: {{scheme: hmac-sha256, secret: {secret}}}}}\n"
            "rules: []\n",
            {"S": "x"},
        )
        assert reported == [
            "rules.yaml:3:51: secrets come from the environment: write the secret as "
            "${NAME}, with no default and nothing around it"
        ]
        assert "hunter2" not in reported[0] and "1234567" not in reported[0]

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            (
                "logs: {}",
                'rules.yaml:3:3: source name "logs" is reserved for log lines; choose another name',
            ),
            (
                "Shop Hooks: {}",
                'rules.yaml:3:3: invalid source name "Shop Hooks": use lowercase letters, digits, '
                "- and _ (at most 63, starting with a letter or digit)",
            ),
            (
                "shop: {format: xml}",
                'rules.yaml:3:18: unknown format "xml"; expected one of: json, alertmanager',
            ),
            (
                "shop: {format: alertmanager, event_field: type}",
                "rules.yaml:3:45: event_field applies to json sources only: an alertmanager source "
                "names its events alertmanager.firing and alertmanager.resolved",
            ),
            (
                "shop: {signature: {scheme: md5, secret: '${S}'}}",
                'rules.yaml:3:30: unknown signature scheme "md5"; '
                "expected one of: hmac-sha256, standard-webhooks",
            ),
            (
                "shop: {signature: {scheme: hmac-sha256, secret: '${S}', encoding: hex64}}",
                'rules.yaml:3:69: unknown encoding "hex64"; expected one of: hex, base64',
            ),
            (
                "shop: {signature: {scheme: hmac-sha256, secret: '${S}', header: 'X Sig'}}",
                'rules.yaml:3:67: invalid header name "X Sig"',
            ),
            (
                "shop: {signature: {scheme: hmac-sha256}}",
                'rules.yaml:3:21: missing required field "secret" in signature',
            ),
            (
                "shop: {signature: {scheme: hmac-sha256, secret: '${S}', salt: x}}",
                'rules.yaml:3:59: unknown field "salt" in signature; allowed fields: scheme, '
                "secret, header, encoding, prefix, tolerance",
            ),
            (
                "shop: [json]",
                'rules.yaml:3:9: a source must be a mapping, got ["json"]',
            ),
        ],
    )
    def test_source_error(self, errors: Any, source: str, message: str) -> None:
        """A bad source definition is reported at its position."""
        text = f"version: 1\nsources:\n  {source}\nrules: []\n"
        assert errors(text, {"S": "x"}) == [message]

    def test_settings_another_scheme_ignores_are_warnings(self, load: Any) -> None:
        """Settings that the chosen scheme does not use are loaded with a warning each."""
        ruleset = load(
            """\
            version: 1
            sources:
              a: {signature: {scheme: standard-webhooks, secret: "${S}", header: X-Sig}}
              b: {signature: {scheme: hmac-sha256, secret: "${S}", tolerance: 1m}}
            rules: []
            """,
            {"S": "x"},
        )
        assert sorted(ruleset.sources) == ["a", "b"]
        assert [str(w) for w in ruleset.warnings] == [
            "rules.yaml:3:62: warning: header is ignored by scheme standard-webhooks "
            "(it uses the webhook-signature header)",
            "rules.yaml:4:56: warning: tolerance is ignored by scheme hmac-sha256 "
            "(it carries no timestamp)",
        ]
