"""Reading YAML with positions: values, keys, merges and the JSON-like subset."""

from __future__ import annotations

from typing import Any

from rules.document import Document, Loc, parse_document
from rules.errors import Issues, Position


def parse(text: str, environ: dict[str, str] | None = None) -> tuple[Document | None, Issues]:
    """Parse `text` with no secrets; return the document and the issues found."""
    issues = Issues("f.yaml")

    def no_secrets(loc: Loc) -> bool:
        return False

    return parse_document(text, issues, environ or {}, no_secrets), issues


class TestValues:
    def test_plain_values(self) -> None:
        """Mappings, lists and JSON scalars come out as plain Python values."""
        doc, issues = parse("a: [1, 2.5, true, null, x]\nb: {c: '2024-01-01'}\nd: 2024-01-01\n")
        assert doc is not None and issues.found == []
        assert doc.data == {
            "a": [1, 2.5, True, None, "x"],
            "b": {"c": "2024-01-01"},
            "d": "2024-01-01",
        }

    def test_keys_are_taken_as_written(self) -> None:
        """`on:` and `1:` stay string keys."""
        doc, _ = parse("on: 1\n1: 2\n")
        assert doc is not None and doc.data == {"on": 1, "1": 2}

    def test_merge_keys(self) -> None:
        """`<<` merges mappings, with written keys winning and earlier merges first."""
        doc, issues = parse("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc: {<<: [*a, *b], x: 0}\n")
        assert doc is not None and issues.found == []
        assert doc.data["c"] == {"y": 1, "z": 2, "x": 0}

    def test_alias_bomb_is_stopped(self) -> None:
        """Aliases that expand beyond reason are refused instead of exhausting memory."""
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        doc, issues = parse("\n".join(lines) + "\n")
        assert doc is None
        assert [str(issue) for issue in issues.found] == [
            "f.yaml:1:1: the file expands to too many values"
        ]


class TestPositions:
    def test_values_and_keys_have_positions(self) -> None:
        """Every value and key is found at its 1-based line and column."""
        doc, _ = parse("rules:\n  - name: a\n    match: {event: x}\n")
        assert doc is not None
        assert doc.at(("rules", 0, "name")) == Position(2, 11)
        assert doc.key_at(("rules", 0, "match")) == Position(3, 5)
        assert doc.at(("rules", 0, "match", "event")) == Position(3, 20)

    def test_missing_paths_fall_back_to_the_nearest_ancestor(self) -> None:
        """A path the file lacks points at the closest part it has."""
        doc, _ = parse("rules:\n  - name: a\n")
        assert doc is not None
        assert doc.at(("rules", 0, "match", "event")) == Position(2, 5)
        assert doc.at(("rules", 7)) == Position(2, 3)

    def test_wrapped_single_values_map_to_their_place(self) -> None:
        """A validator's `notify.0.title` finds `notify.title` when one mapping was written."""
        doc, _ = parse("notify: {title: t}\n")
        assert doc is not None
        assert doc.at(("notify", 0, "title")) == Position(1, 17)


class TestRefused:
    def test_duplicate_key(self) -> None:
        """A key written twice in one mapping is an error at the second."""
        _, issues = parse("a: 1\nb: 2\na: 3\n")
        assert [str(issue) for issue in issues.found] == [
            'f.yaml:3:1: duplicate key "a" (first written at line 1)'
        ]

    def test_complex_key(self) -> None:
        """A mapping used as a key is refused."""
        _, issues = parse("? {a: 1}\n: x\n")
        assert [str(issue) for issue in issues.found] == [
            "f.yaml:1:3: a mapping key must be a string"
        ]

    def test_custom_tag(self) -> None:
        """Application tags are not part of the format."""
        _, issues = parse("a: !python/name:os.system x\n")
        assert [str(issue) for issue in issues.found] == [
            'f.yaml:1:4: unsupported YAML tag "!python/name:os.system"'
        ]

    def test_merge_of_a_scalar(self) -> None:
        """`<<` needs mappings."""
        _, issues = parse("a: {<<: 5}\n")
        assert [str(issue) for issue in issues.found] == [
            "f.yaml:1:9: a `<<` merge needs a mapping"
        ]


def test_substitution_happens_while_reading(monkeypatch: Any) -> None:
    """Variables come from the mapping given, never from the process."""
    monkeypatch.setenv("FROM_PROCESS", "no")
    doc, issues = parse("a: ${FROM_PROCESS:-default}\nb: '${GIVEN}'\n", {"GIVEN": "yes"})
    assert doc is not None and issues.found == []
    assert doc.data == {"a": "default", "b": "yes"}
