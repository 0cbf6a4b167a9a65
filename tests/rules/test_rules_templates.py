"""Templates: rendering, missing fields, the sandbox, bounds, and template load errors."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from rules.engine import Evaluation
from rules.outcomes import AlertDraft, NotificationDraft
from rules.templates import Bound, bound, bound_key


def notify(load: Any, title: str, event: dict[str, Any], **fields: str) -> Evaluation:
    """Evaluate `event` against one rule that notifies with `title` (and other fields)."""
    fields = {"message": "m"} | fields
    extra = "".join(f"      {name}: {json.dumps(value)}\n" for name, value in fields.items())
    ruleset = load(
        "version: 1\n"
        "rules:\n"
        "  - name: r\n"
        "    match: {}\n"
        "    notify:\n"
        "      type: system_info\n"
        f"      title: {json.dumps(title)}\n" + extra
    )
    return ruleset.evaluate(event)  # type: ignore[no-any-return]


def title_of(evaluation: Evaluation) -> str:
    """Return the title of the only draft."""
    (draft,) = evaluation.drafts
    assert isinstance(draft, NotificationDraft)
    return draft.title


class TestRendering:
    @pytest.mark.parametrize(
        ("title", "event", "expected"),
        [
            ("plain text", {}, "plain text"),
            ("{{ name }}", {"name": "Acme"}, "Acme"),
            ("Store {{ name }} ({{ id }})", {"name": "Acme", "id": 5}, "Store Acme (5)"),
            ("{{ n }}", {"n": 1.5}, "1.5"),
            ("{{ flag }}", {"flag": True}, "True"),
            ("[{{ nothing }}]", {"nothing": None}, "[]"),
            ("{{ payload.order.id }}", {"payload": {"order": {"id": 7}}}, "7"),
            ("{{ labels['job'] }}", {"labels": {"job": "api"}}, "api"),
            ("{{ name | upper }}", {"name": "acme"}, "ACME"),
            ("{{ name | default('n/a') }}", {}, "n/a"),
            ("{% if n > 1 %}many{% else %}one{% endif %}", {"n": 2}, "many"),
            ("{{ items | join(', ') }}", {"items": ["a", "b"]}, "a, b"),
            ("{{ source }}", {}, "logs"),
            ("{{ source }}", {"source": "spoofed"}, "logs"),
            ("<b>{{ name }}</b>", {"name": "<i>&"}, "<b><i>&</b>"),
            ("{{ true }}", {"true": "field"}, "True"),
        ],
    )
    def test_renders(self, load: Any, title: str, event: dict[str, Any], expected: str) -> None:
        """Templates render the event's fields as plain text, the way Jinja does."""
        assert title_of(notify(load, title, event)) == expected

    def test_escaped_markers_are_literal(self, load: Any) -> None:
        """`{{ '{{' }}` writes literal braces."""
        assert title_of(notify(load, "{{ '{{' }} x }}", {})) == "{{ x }}"


class TestMissingFields:
    @pytest.mark.parametrize(
        ("title", "event", "expected", "missing"),
        [
            ("{{ name }}", {}, "", 1),
            ("a {{ x }} b {{ y }}", {}, "a  b ", 2),
            ("{{ payload.order.id }}", {}, "", 1),
            ("{{ payload.order.id }}", {"payload": {}}, "", 1),
            ("{{ x | upper }}", {}, "", 1),
            ("{{ x | default('-') }}", {}, "-", 0),
            ("{% if x %}yes{% endif %}", {}, "", 0),
            ("{% for i in items %}{{ i }}{% endfor %}", {}, "", 1),
            ("{{ x }}", {"x": None}, "", 0),
        ],
    )
    def test_missing_field_renders_empty_and_counts(
        self, load: Any, title: str, event: dict[str, Any], expected: str, missing: int
    ) -> None:
        """A field the event lacks renders as empty and is counted, never raised."""
        evaluation = notify(load, title, event)
        assert title_of(evaluation) == expected
        assert evaluation.missing_fields == missing

    def test_missing_fields_add_up_across_actions(self, load: Any) -> None:
        """The count covers every template rendered for the event."""
        evaluation = notify(load, "{{ a }}", {}, message="{{ b }} {{ c }}", action_url="/{{ d }}")
        assert evaluation.missing_fields == 4

    def test_unmatched_event_counts_nothing(self, load: Any) -> None:
        """No rule matched: nothing was rendered, nothing is missing."""
        ruleset = load(
            """\
            version: 1
            rules:
              - {name: r, match: {event: x}, resolve: {fingerprint: "{{ a }}"}}
            """
        )
        assert ruleset.evaluate({"event": "y"}).missing_fields == 0


class TestSandbox:
    @pytest.mark.parametrize(
        "title",
        [
            "{{ ''.__class__.__mro__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ name.__class__.__init__.__globals__ }}",
            "{{ cycler.__init__.__globals__.os }}",
            "{{ n + 'text' }}",
            "{{ n / 0 }}",
            "{{ 'a' * 1000000 }}",
            "{{ [1] * 1000000 }}",
            "{{ 10 ** 1000 }}",
            "{{ range(10 ** 9) | list }}",
            "{{ '{0.__class__}'.format(name) }}",
        ],
    )
    def test_dangerous_template_renders_empty(self, load: Any, title: str) -> None:
        """Sandbox violations and runtime errors render the field empty and count, never raise."""
        evaluation = notify(load, title, {"n": 1, "name": "x"})
        assert title_of(evaluation) == ""
        assert evaluation.missing_fields >= 1

    def test_other_fields_survive_a_failing_one(self, load: Any) -> None:
        """One failing template does not spoil the rest of the draft."""
        evaluation = notify(load, "{{ n + 'x' }}", {"n": 1}, message="n={{ n }}")
        (draft,) = evaluation.drafts
        assert isinstance(draft, NotificationDraft)
        assert (draft.title, draft.message) == ("", "n=1")

    def test_small_repetition_is_allowed(self, load: Any) -> None:
        """Bounding `*` leaves ordinary uses alone."""
        assert title_of(notify(load, "{{ '-' * 3 }}{{ 2 ** 3 }}", {})) == "---8"


class TestBounds:
    @pytest.mark.parametrize(
        ("field", "limit"),
        [("title", Bound.TITLE), ("message", Bound.TEXT), ("action_url", Bound.URL)],
    )
    def test_long_output_is_cut(self, load: Any, field: str, limit: int) -> None:
        """Rendered text is cut to the field's bound, ending in an ellipsis."""
        fields = {"message": "m", "action_url": "/x"} | {field: "/{{ text }}"}
        title = fields.pop("title", "t")
        evaluation = notify(load, title, {"text": "a" * 20_000}, **fields)
        (draft,) = evaluation.drafts
        value = getattr(draft, field)
        assert len(value) == limit
        assert value.endswith("…")

    def test_long_keys_keep_distinct_hashes(self, load: Any) -> None:
        """Keys and fingerprints are cut to 255 characters, distinct long keys staying distinct."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                alert:
                  type: system
                  severity: error
                  title: t
                  fingerprint: "{{ text }}"
            """
        )
        first = ruleset.evaluate({"text": "a" * 300 + "1"}).drafts[0]
        second = ruleset.evaluate({"text": "a" * 300 + "2"}).drafts[0]
        assert isinstance(first, AlertDraft) and isinstance(second, AlertDraft)
        assert len(first.fingerprint) == len(second.fingerprint) == 255
        assert first.fingerprint != second.fingerprint

    def test_metadata_values_are_bounded(self, load: Any) -> None:
        """A metadata string is cut to 1,000 characters."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify:
                  type: system_info
                  title: t
                  message: m
                  metadata: {raw: "{{ text }}", rendered: "<{{ text }}>"}
            """
        )
        evaluation = ruleset.evaluate({"text": "b" * 5000})
        (draft,) = evaluation.drafts
        assert isinstance(draft, NotificationDraft)
        assert len(draft.metadata["raw"]) == len(draft.metadata["rendered"]) == Bound.VALUE

    def test_bound_helpers(self) -> None:
        """Short text is left alone; a long key ends in a hash."""
        assert bound("abc", 3) == "abc"
        assert bound("abcd", 3) == "ab…"
        assert bound_key("k" * 255) == "k" * 255
        assert bound_key("k" * 256)[238] == "~"


class TestMetadata:
    def test_single_field_keeps_its_json_type(self, load: Any) -> None:
        """`{{ field }}` alone keeps numbers, booleans and small structures as they are."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify:
                  type: system_info
                  title: t
                  message: m
                  metadata:
                    count: "{{ count }}"
                    ok: "{{ ok }}"
                    labels: "{{ labels }}"
                    text: "count={{ count }}"
                    literal: 3
                    nothing: null
                    absent: "{{ absent }}"
            """
        )
        evaluation = ruleset.evaluate({"count": 7, "ok": False, "labels": {"job": "api"}})
        (draft,) = evaluation.drafts
        assert isinstance(draft, NotificationDraft)
        assert draft.metadata == {
            "count": 7,
            "ok": False,
            "labels": {"job": "api"},
            "text": "count=7",
            "literal": 3,
            "nothing": None,
            "absent": None,
        }
        assert evaluation.missing_fields == 1

    def test_big_structure_becomes_bounded_text(self, load: Any) -> None:
        """A structure too big for metadata is kept as cut JSON text."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify: {type: system_info, title: t, message: m, metadata: {v: "{{ v }}"}}
            """
        )
        (draft,) = ruleset.evaluate({"v": list(range(1000))}).drafts
        assert isinstance(draft, NotificationDraft)
        assert isinstance(draft.metadata["v"], str)
        assert len(draft.metadata["v"]) == Bound.VALUE

    def test_values_that_are_not_json_become_text(self, load: Any) -> None:
        """A field holding something other than JSON data is kept as its text."""
        ruleset = load(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify: {type: system_info, title: t, message: m, metadata: {v: "{{ v }}"}}
            """
        )
        (draft,) = ruleset.evaluate({"v": Decimal("1.50")}).drafts
        assert isinstance(draft, NotificationDraft)
        assert draft.metadata == {"v": "1.50"}


class TestTemplateErrors:
    @pytest.mark.parametrize(
        ("title", "message"),
        [
            (
                "{{ x",
                'rules.yaml:7:14: template error in title "{{ x": unexpected end of template, '
                "expected 'end of print statement'.",
            ),
            (
                "{% if x %}",
                'rules.yaml:7:14: template error in title "{% if x %}": Unexpected end of '
                "template. Jinja was looking for the following tags: 'elif' or 'else' or "
                "'endif'. The innermost block that needs to be closed is 'if'.",
            ),
            (
                "{{ x | nosuchfilter }}",
                'rules.yaml:7:14: template error in title "{{ x | nosuchfilter }}": No filter '
                "named 'nosuchfilter'.",
            ),
        ],
    )
    def test_syntax_error_is_a_load_error(self, errors: Any, title: str, message: str) -> None:
        """A template that does not compile is reported at its YAML scalar."""
        text = (
            "version: 1\n"
            "rules:\n"
            "  - name: r\n"
            "    match: {}\n"
            "    notify:\n"
            "      type: system_info\n"
            f"      title: {json.dumps(title)}\n"
            "      message: m\n"
        )
        assert errors(text) == [message]

    def test_errors_in_every_templated_field_are_reported(self, errors: Any) -> None:
        """Keys, lists and metadata templates are checked too, each at its own position."""
        assert errors(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                alert:
                  type: system
                  severity: error
                  title: t
                  fingerprint: "{{"
                  affected_stores: ["ok", "{% x %}"]
                  metadata: {a: "{{ }}"}
            """
        ) == [
            "rules.yaml:9:20: template error in fingerprint \"{{\": unexpected 'end of template'",
            'rules.yaml:10:31: template error in affected_stores "{% x %}": Encountered unknown '
            "tag 'x'.",
            'rules.yaml:11:21: template error in metadata a "{{ }}": Expected an expression, '
            "got 'end of print statement'",
        ]

    def test_multiline_template_error_names_the_template_line(self, errors: Any) -> None:
        """In a block scalar, the message adds the line inside the template."""
        assert errors(
            """\
            version: 1
            rules:
              - name: r
                match: {}
                notify:
                  type: system_info
                  title: t
                  message: |
                    first line
                    {{ broken
            """
        ) == [
            'rules.yaml:8:16: template error in message "first line\\n{{ broken\\n": unexpected '
            "end of template, expected 'end of print statement'. (template line 2)"
        ]
