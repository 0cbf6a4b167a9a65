"""The bundled rules.yaml: the platform's contract loads anywhere and passes its own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.engine import RuleSet, SignatureSpec
from rules.loader import load_ruleset
from rules.outcomes import AlertDraft, NotificationDraft, ResolveDraft
from rules.testing import run_rule_tests
from rules.vocabulary import AlertType, NotificationType, Priority, Severity

BUNDLED = Path(__file__).resolve().parents[2] / "rules.yaml"


@pytest.fixture(scope="module")
def bundled() -> RuleSet:
    """The bundled rules, loaded with no environment variable set."""
    return load_ruleset(BUNDLED, environ={})


class TestBundledFile:
    def test_loads_with_no_environment(self, bundled: RuleSet) -> None:
        """With no variable set, both webhook sources are disabled with a warning each."""
        assert dict(bundled.sources) == {}
        assert dict(bundled.disabled_sources) == {
            "letzshop": "secret ${LETZSHOP_WEBHOOK_SECRET} is not set",
            "alertmanager": "secret ${ALERTMANAGER_WEBHOOK_SECRET} is not set",
        }
        assert [issue.severity for issue in bundled.warnings] == ["warning", "warning"]

    def test_all_rule_tests_pass(self, bundled: RuleSet) -> None:
        """Every rule test written in the file passes."""
        assert [str(failure) for failure in run_rule_tests(bundled)] == []

    def test_every_rule_is_exercised_by_a_test(self, bundled: RuleSet) -> None:
        """Each rule fires in at least one of the file's tests."""
        fired = {
            name
            for test in bundled.tests
            for name in bundled.evaluate(test.event, test.source).matched_rules
        }
        assert fired == {rule.name for rule in bundled.rules}

    def test_every_event_has_a_quiet_case(self, bundled: RuleSet) -> None:
        """The file also shows events that produce nothing (negative cases)."""
        quiet = [test for test in bundled.tests if not test.expect]
        assert len(quiet) >= 8

    def test_sources_are_enabled_when_secrets_are_set(self) -> None:
        """With both secrets set, both sources are enabled as the contract says."""
        ruleset = load_ruleset(
            BUNDLED,
            environ={"LETZSHOP_WEBHOOK_SECRET": "l", "ALERTMANAGER_WEBHOOK_SECRET": "whsec_a"},
        )
        letzshop = ruleset.sources["letzshop"]
        assert (letzshop.format, letzshop.event_field) == ("json", "type")
        assert letzshop.signature == SignatureSpec(
            "hmac-sha256", "l", "X-Letzshop-Signature", "hex", "sha256="
        )
        alertmanager = ruleset.sources["alertmanager"]
        assert alertmanager.format == "alertmanager"
        assert alertmanager.signature is not None
        assert alertmanager.signature.scheme == "standard-webhooks"
        assert ruleset.warnings == []


class TestContract:
    def test_failed_product_import(self, bundled: RuleSet) -> None:
        """A failed product import is a high, action-required import failure, deduplicated."""
        (draft,) = bundled.evaluate(
            {
                "event": "product_import.failed",
                "store_id": 5,
                "store_name": "Acme",
                "job_id": 123,
                "error_message": "CSV parsing failed",
            }
        ).drafts
        assert isinstance(draft, NotificationDraft)
        assert (draft.type, draft.priority, draft.action_required) == (
            NotificationType.IMPORT_FAILURE,
            Priority.HIGH,
            True,
        )
        assert draft.dedup_key == "product-import-failed:5:123"
        assert draft.action_url == "/admin/stores/5/imports/123"

    def test_letzshop_alert_lifecycle(self, bundled: RuleSet) -> None:
        """API errors and api_error import failures share the store's alert; a sync resolves it."""
        api_error = bundled.evaluate(
            {
                "event": "letzshop.api_error",
                "store_id": 5,
                "store_name": "Acme",
                "operation": "fetch",
                "status_code": 500,
                "error_message": "oops",
            }
        ).drafts
        import_failure = bundled.evaluate(
            {
                "event": "order_import.failed",
                "store_id": 5,
                "store_name": "Acme",
                "job_id": 1,
                "error_message": "oops",
                "reason": "api_error",
            }
        ).drafts
        resolved = bundled.evaluate({"event": "order_sync.succeeded", "store_id": 5}).drafts
        alerts = [d for d in [*api_error, *import_failure] if isinstance(d, AlertDraft)]
        assert {(a.alert_type, a.severity, a.fingerprint) for a in alerts} == {
            (AlertType.INTEGRATION, Severity.ERROR, "letzshop:store:5")
        }
        assert len(alerts) == 2
        assert resolved == [
            ResolveDraft(
                rule="order-sync-succeeded",
                fingerprint="letzshop:store:5",
                notes="Letzshop order sync succeeded again.",
            )
        ]

    @pytest.mark.parametrize(
        ("severity", "expected"),
        [
            ("critical", Severity.CRITICAL),
            ("page", Severity.CRITICAL),
            ("warning", Severity.WARNING),
            ("info", Severity.INFO),
            ("none", Severity.INFO),
            ("major", Severity.ERROR),
        ],
    )
    def test_alertmanager_severities(
        self, bundled: RuleSet, severity: str, expected: Severity
    ) -> None:
        """Each Alertmanager severity label maps to exactly one system alert severity."""
        drafts = bundled.evaluate(
            {
                "event": "alertmanager.firing",
                "alertname": "A",
                "fingerprint": "f1",
                "severity": severity,
                "labels": {},
                "annotations": {},
            },
            source="alertmanager",
        ).drafts
        assert [(d.severity, d.fingerprint) for d in drafts if isinstance(d, AlertDraft)] == [
            (expected, "alertmanager:f1")
        ]
        assert len(drafts) == 1
