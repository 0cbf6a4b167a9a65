"""Compile a rule's `match` mapping into a predicate over events, once, at load.

A `match` mapping holds conditions that must all be true::

    match:
      event: product_import.completed        # a plain value: equality
      error_count: {gte: 5}                  # an operator mapping: every operator must hold
      payload.order.id: {exists: true}       # dotted paths reach into nested objects
      any:                                   # at least one of these matches
        - {store.country: LU}
        - {store.priority: {in: [gold, platinum]}}
      not: {source_system: {prefix: test-}}  # this match does not

Paths are split on dots; a part that is a whole number indexes a list (`items.0.sku`).
`any`, `all` and `not` are reserved at the match level.

Operators, and what they do with the event's value:

========== ===================================================================================
eq, ne     equal / not equal; a missing field is never equal, so `ne` holds for it
in, not_in one of a list of values / none of them (`not_in` holds for a missing field)
gt, gte,   compare numbers with numbers and strings with strings (ISO timestamps sort
lt, lte    correctly); any other pairing is simply false
exists     true: the path is present (even if null); false: it is absent
prefix,    the value is a string that starts / ends with the operand
suffix
contains   a string containing the operand, or a list holding an element equal to it
regex      the value is a string in which the RE2 pattern is found (unanchored: use ^ and $);
           RE2 runs in linear time, so no pattern can stall ingestion
========== ===================================================================================

Values compare by JSON type: `true` is not the number 1, and `"5"` is not 5. A comparison that
makes no sense for the value found is false; evaluation never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import re2  # type: ignore[import-untyped]

from rules.document import Document, Loc
from rules.errors import Issues, quote

Event = Mapping[str, Any]
Predicate = Callable[[Event], bool]
Test = Callable[[Any], bool]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What a path resolves to when the event has nothing there."""

COMBINATORS = ("any", "all", "not")
OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "prefix",
    "suffix",
    "contains",
    "regex",
)
_NUMBERS = (int, float)  # compared by exact type, so bool (a subclass of int) is left out
_SCALARS = (str, int, float, bool, type(None))

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported as a load error, not on stderr
_RE2_OPTIONS.never_capture = True  # only "found or not" is needed


@dataclass(frozen=True, slots=True)
class CompiledMatch:
    """A compiled `match`: the full predicate, and what the engine needs to index the rule.

    When the match requires the top-level `event` field to equal one of `event_values`, the
    engine only offers the rule events with one of those names, and then `rest` (the
    predicate without that condition) decides. Otherwise, when it requires some other
    top-level field `key_field` to equal one of `key_values`, the engine only offers it events
    holding one of those values there, and the full predicate decides (`rest` is `test`): the
    lookup is only a pre-filter, so the matchers alone settle what equality means.

    Failing both, `presence_fields` names top-level fields of which the event must hold at
    least one for the match to be able to hold (`error_message: {regex: …}` cannot without
    `error_message`); the engine offers the rule only events holding one of them. None when
    some event holding none of them could match (`not`, `ne`, `exists: false`, an `any`
    with such a branch).
    """

    test: Predicate
    event_values: frozenset[str] | None
    rest: Predicate
    key_field: str | None = None
    key_values: frozenset[str | int | float] = frozenset()
    presence_fields: frozenset[str] | None = None


def compile_match(spec: dict[str, Any], loc: Loc, doc: Document, issues: Issues) -> CompiledMatch:
    """Compile the match at `loc`; record problems in `issues` (the result is then unusable)."""
    compiler = _Compiler(doc, issues)
    conditions = compiler.conditions(spec, loc)
    test = _all(list(conditions.values()))
    event_values = _event_values(spec.get("event", MISSING))
    if event_values is not None:
        rest = _all([pred for key, pred in conditions.items() if key != "event"])
        return CompiledMatch(test, event_values, rest)
    for key, value in spec.items():
        if key in COMBINATORS or "." in key:
            continue
        key_values = _key_values(value)
        if key_values is not None:
            return CompiledMatch(test, None, test, key, key_values)
    presence = compiler.narrowest(list(conditions.values()))
    return CompiledMatch(test, None, test, presence_fields=presence)


def _event_values(spec: Any) -> frozenset[str] | None:
    if isinstance(spec, str):
        return frozenset((spec,))
    if isinstance(spec, dict) and len(spec) == 1:
        ((op, operand),) = spec.items()
        if op == "eq" and isinstance(operand, str):
            return frozenset((operand,))
        if op == "in" and isinstance(operand, list) and all(isinstance(v, str) for v in operand):
            return frozenset(operand)
    return None


def _key_values(spec: Any) -> frozenset[str | int | float] | None:
    """The values a condition requires its field to equal, when it is plain equality.

    Only strings and numbers, for which a dict lookup finds every value the matchers call
    equal (`"5"` does not find 5, 5 finds 5.0), when the engine looks up only string and number
    values. true/false and null are left out, as True would find the key 1; so is NaN.
    """
    if isinstance(spec, dict):
        if len(spec) != 1:
            return None
        ((op, operand),) = spec.items()
        if op == "eq":
            operands = [operand]
        elif op == "in" and isinstance(operand, list) and operand:
            operands = operand
        else:
            return None
    else:
        operands = [spec]
    for value in operands:
        if not (type(value) is str or (_is_number(value) and value == value)):
            return None
    return frozenset(operands)


class _Compiler:
    def __init__(self, doc: Document, issues: Issues) -> None:
        self.doc = doc
        self.issues = issues
        # Per compiled predicate: top-level fields of which an event must hold one for the
        # predicate to be able to hold (see CompiledMatch.presence_fields). Keyed by identity:
        # every predicate registered here is made by this compiler for one place in the spec.
        self.presence: dict[Predicate, frozenset[str]] = {}

    def narrowest(self, conjuncts: Sequence[Predicate]) -> frozenset[str] | None:
        """Return the fewest fields one of which a conjunction needs, the first of equals."""
        found = [fields for part in conjuncts if (fields := self.presence.get(part)) is not None]
        return min(found, key=len) if found else None

    def conjunction(self, parts: Sequence[Predicate]) -> Predicate:
        predicate = _all(parts)
        fields = self.narrowest(parts)
        if fields is not None:
            self.presence[predicate] = fields
        return predicate

    def error(self, loc: Loc, message: str, *, key: bool = False) -> None:
        self.issues.error(self.doc.key_at(loc) if key else self.doc.at(loc), message)

    def match(self, spec: Any, loc: Loc) -> Predicate:
        if not isinstance(spec, dict):
            self.error(loc, f"a match must be a mapping of conditions, got {quote(spec)}")
            return _never
        return self.conjunction(list(self.conditions(spec, loc).values()))

    def conditions(self, spec: dict[str, Any], loc: Loc) -> dict[str, Predicate]:
        out: dict[str, Predicate] = {}
        for key, value in spec.items():
            here = (*loc, key)
            if key in COMBINATORS:
                out[key] = self.combinator(key, value, here)
            else:
                out[key] = self.field(key, value, here)
        return out

    def combinator(self, name: str, value: Any, loc: Loc) -> Predicate:
        if name == "not":
            # Never in self.presence: `not` holds for events lacking whatever `inner` needs.
            inner = self.match(value, loc)
            return lambda event: not inner(event)
        if not isinstance(value, list) or not value:
            self.error(loc, f"{name} needs a non-empty list of matches, got {quote(value)}")
            return _never
        parts = [self.match(item, (*loc, index)) for index, item in enumerate(value)]
        if name == "all":
            return self.conjunction(parts)
        some = _any(parts)
        # `any` needs a field only when every branch needs one: then it needs one of theirs.
        branches = [self.presence.get(part) for part in parts]
        if all(fields is not None for fields in branches):
            self.presence[some] = frozenset().union(*(f for f in branches if f is not None))
        return some

    def field(self, path: str, spec: Any, loc: Loc) -> Predicate:
        get = self.getter(path, loc)
        if isinstance(spec, dict):
            test = self.operators(spec, loc)
        elif isinstance(spec, list):
            self.error(
                loc,
                f"a list cannot be matched by equality ({quote(spec)}); "
                f"use {{in: [...]}} to match one of several values",
            )
            return _never
        else:
            test = _equals(spec)
        predicate: Predicate
        if "." not in path and path:
            # The getter inlined: one call fewer per condition, per rule, per event; for the
            # commonest operators, the value test too.
            predicate = _top_level(path, spec) or (lambda event: test(event.get(path, MISSING)))
        else:
            predicate = lambda event: test(get(event))  # noqa: E731
        if not test(MISSING):
            # The path resolves to MISSING whenever its first part is absent, and the value
            # test is false for MISSING: the condition cannot hold without that field.
            self.presence[predicate] = frozenset((path.split(".")[0],))
        return predicate

    def getter(self, path: str, loc: Loc) -> Callable[[Event], Any]:
        parts = path.split(".")
        if not all(parts):
            self.error(loc, f"invalid field path {quote(path)}: empty part", key=True)
            return lambda event: MISSING
        if len(parts) == 1:
            return lambda event: event.get(path, MISSING)
        steps = [(part, int(part) if part.isdigit() else None) for part in parts]
        return lambda event: _walk(event, steps)

    def operators(self, spec: dict[str, Any], loc: Loc) -> Test:
        if not spec:
            self.error(loc, f"an operator mapping needs at least one of: {', '.join(OPERATORS)}")
            return _no
        tests: list[Test] = []
        for op, operand in spec.items():
            here = (*loc, op)
            if op not in OPERATORS:
                self.error(
                    here,
                    f"unknown operator {quote(op)}; known operators: {', '.join(OPERATORS)}",
                    key=True,
                )
                continue
            test = self.operator(op, operand, here)
            if test is not None:
                tests.append(test)
        if len(tests) == 1:
            return tests[0]
        return lambda value: all(test(value) for test in tests)

    def operator(self, op: str, operand: Any, loc: Loc) -> Test | None:
        def wrong(expected: str) -> None:
            self.error(loc, f"{op} needs {expected}, got {quote(operand)}")

        if op in ("eq", "ne"):
            if not isinstance(operand, _SCALARS):
                wrong("a single value (a string, number, true/false or null)")
                return None
            equal = _equals(operand)
            return equal if op == "eq" else lambda value: not equal(value)
        if op in ("in", "not_in"):
            if not isinstance(operand, list) or not all(isinstance(v, _SCALARS) for v in operand):
                wrong("a list of values (strings, numbers, true/false or null)")
                return None
            member = _member_of(operand)
            return member if op == "in" else lambda value: not member(value)
        if op in ("gt", "gte", "lt", "lte"):
            if not (_is_number(operand) or isinstance(operand, str)):
                wrong("a number or a string")
                return None
            return _ordering(op, operand)
        if op == "exists":
            if not isinstance(operand, bool):
                wrong("true or false")
                return None
            if operand:
                return lambda value: value is not MISSING
            return lambda value: value is MISSING
        if op in ("prefix", "suffix"):
            if not isinstance(operand, str):
                wrong("a string")
                return None
            if op == "prefix":
                return lambda value: type(value) is str and value.startswith(operand)
            return lambda value: type(value) is str and value.endswith(operand)
        if op == "contains":
            if not isinstance(operand, _SCALARS) or operand is None:
                wrong("a string, number or true/false")
                return None
            return _contains(operand)
        return self.regex(operand, loc)

    def regex(self, pattern: Any, loc: Loc) -> Test | None:
        if not isinstance(pattern, str):
            self.error(loc, f"regex needs a string, got {quote(pattern)}")
            return None
        try:
            compiled = re2.compile(pattern, _RE2_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            self.error(loc, f"invalid regular expression {quote(pattern)}: {reason}")
            return None
        search = compiled.search
        return lambda value: type(value) is str and search(value) is not None


# --- the building blocks, kept small and allocation-free on the hot path --------------------


def _never(event: Event) -> bool:
    return False


def _always(event: Event) -> bool:
    return True


def _no(value: Any) -> bool:
    return False


def _all(predicates: Sequence[Predicate]) -> Predicate:
    if not predicates:
        return _always
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda event: first(event) and second(event)
    frozen = tuple(predicates)

    def every(event: Event) -> bool:
        # A plain loop: cheaper than all() over a generator, and this runs per event per rule.
        for predicate in frozen:  # noqa: SIM110
            if not predicate(event):
                return False
        return True

    return every


def _any(predicates: Sequence[Predicate]) -> Predicate:
    frozen = tuple(predicates)

    def some(event: Event) -> bool:
        # A plain loop, as in _all: any() over a generator costs more per event.
        for predicate in frozen:  # noqa: SIM110
            if predicate(event):
                return True
        return False

    return some


def _top_level(path: str, spec: Any) -> Predicate | None:
    """Return one function for a condition on a top-level field with a common operator.

    The value tests of `_equals` and `_ordering`, each reading the field itself: no call from
    the condition to its value test. None for other specs, which keep the two-step form (the
    operands were validated by `_Compiler.operators`).
    """
    if isinstance(spec, dict):
        if len(spec) != 1:
            return None
        ((op, operand),) = spec.items()
    elif isinstance(spec, _SCALARS):
        op, operand = "eq", spec
    else:
        return None
    if op == "eq":
        if operand is None:
            return lambda event: event.get(path, MISSING) is None
        if type(operand) is str:
            return lambda event: event.get(path, MISSING) == operand
        if type(operand) is bool:
            return lambda event: event.get(path, MISSING) is operand
        if _is_number(operand):
            return lambda event: type(v := event.get(path, MISSING)) in _NUMBERS and v == operand
        return None
    if op in ("gt", "gte", "lt", "lte") and (_is_number(operand) or type(operand) is str):
        kinds = _NUMBERS if _is_number(operand) else (str,)
        if op == "gt":
            return lambda event: type(v := event.get(path, MISSING)) in kinds and v > operand
        if op == "gte":
            return lambda event: type(v := event.get(path, MISSING)) in kinds and v >= operand
        if op == "lt":
            return lambda event: type(v := event.get(path, MISSING)) in kinds and v < operand
        return lambda event: type(v := event.get(path, MISSING)) in kinds and v <= operand
    return None


def _walk(event: Event, steps: Sequence[tuple[str, int | None]]) -> Any:
    current: Any = event
    for key, index in steps:
        if isinstance(current, Mapping):
            current = current.get(key, MISSING)
            if current is MISSING:
                return MISSING
        elif type(current) is list and index is not None and index < len(current):
            current = current[index]
        else:
            return MISSING
    return current


def _is_number(value: Any) -> bool:
    return type(value) in _NUMBERS


def _kind(value: Any) -> str | None:
    """Name the JSON type of `value` (None for containers and other things)."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind in _NUMBERS:
        return "number"
    if kind is str:
        return "string"
    return None


def same(value: Any, operand: Any) -> bool:
    """Tell whether two values are equal as JSON values (`true` is not 1)."""
    if type(value) is bool or type(operand) is bool:
        return type(value) is type(operand) and value == operand
    return bool(value == operand) if _kind(value) == _kind(operand) else False


def _equals(operand: Any) -> Test:
    if operand is None:
        return lambda value: value is None
    if type(operand) is str:
        return lambda value: value == operand  # str.__eq__ is False for every other type
    if type(operand) is bool:
        return lambda value: value is operand
    return lambda value: type(value) in _NUMBERS and value == operand


def _member_of(operands: Sequence[Any]) -> Test:
    if all(type(v) is str for v in operands):
        strings = frozenset(operands)
        return lambda value: type(value) is str and value in strings
    keyed = frozenset((_kind(v), v) for v in operands)

    def member(value: Any) -> bool:
        kind = _kind(value)
        return kind is not None and (kind, value) in keyed

    return member


def _ordering(op: str, operand: Any) -> Test:
    kinds = _NUMBERS if _is_number(operand) else (str,)
    if op == "gt":
        return lambda value: type(value) in kinds and value > operand
    if op == "gte":
        return lambda value: type(value) in kinds and value >= operand
    if op == "lt":
        return lambda value: type(value) in kinds and value < operand
    return lambda value: type(value) in kinds and value <= operand


def _contains(operand: Any) -> Test:
    if type(operand) is str:

        def contains_string(value: Any) -> bool:
            if type(value) is str:
                return operand in value
            if type(value) is list:
                # list.__contains__ runs in C and misses only when no element is equal; the
                # loop then keeps `same`'s rule that only a string equals a string.
                return operand in value and any(
                    type(item) is str and item == operand for item in value
                )
            return False

        return contains_string

    def contains(value: Any) -> bool:
        if type(value) is str:
            return type(operand) is str and operand in value
        if type(value) is list:
            return any(same(item, operand) for item in value)
        return False

    return contains
