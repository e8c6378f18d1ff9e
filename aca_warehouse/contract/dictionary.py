"""Typed access to `dictionary.yaml`, the single source of truth for the landing contract."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, fields
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml

from aca_warehouse.errors import ConfigurationError

DICTIONARY_PATH = Path(__file__).with_name("dictionary.yaml")
MAX_DEFECT_RATE_ENV = "ACA_MAX_DEFECT_RATE"
COLUMN_TYPES = ("text", "int", "decimal", "date", "timestamp")
RULE_KINDS = ("predicate", "overlap_with_earlier_row")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ColumnRange:
    """Bounds of a numeric or date column: numbers, or SQL expressions (they may use `_load_date`)."""

    min: float | str | None = None
    max: float | str | None = None
    min_exclusive: float | str | None = None
    max_exclusive: float | str | None = None

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min}")
        if self.min_exclusive is not None:
            parts.append(f"> {self.min_exclusive}")
        if self.max is not None:
            parts.append(f"<= {self.max}")
        if self.max_exclusive is not None:
            parts.append(f"< {self.max_exclusive}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Column:
    """One contract column: its type, whether it is required, PHI, and its value checks."""

    name: str
    type: str
    description: str
    required: bool = False
    phi: bool = False
    accepted_values: tuple[Any, ...] | None = None
    pattern: str | None = None
    range: ColumnRange | None = None
    non_negative: bool = False
    npi_luhn: bool = False
    max_length: int = 0  # bytes of UTF-8 after trimming; the type's default unless the column sets one

    def value_checks(self) -> list[str]:
        """Names of the column-level checks this column has (keys of `column_checks`)."""
        names = ["max_length"] if self.max_length else []
        if self.accepted_values is not None:
            names.append("accepted_values")
        if self.pattern is not None:
            names.append("pattern")
        if self.range is not None:
            names.append("range")
        if self.non_negative:
            names.append("non_negative")
        if self.npi_luhn:
            names.append("npi_luhn")
        return names


@dataclass(frozen=True)
class RowRule:
    """A rule over several columns of a row; breaking it quarantines the row with `code`."""

    code: str
    description: str
    uses: tuple[str, ...]
    kind: str = "predicate"
    violated_when: str | None = None  # kind "predicate": SQL that is true for a bad row
    same: tuple[str, ...] = ()  # kind "overlap_with_earlier_row"
    different: tuple[str, ...] = ()
    period: tuple[str, str] | None = None


@dataclass(frozen=True)
class EventVariant:
    """The extra fields of one event type and which of them it requires."""

    name: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Variants:
    """Per-type fields of a feed whose rows come in several shapes (enrollment events)."""

    discriminator: str
    types: dict[str, EventVariant]


@dataclass(frozen=True)
class Feed:
    """One landing feed: where its files live, how often they come, and what they must contain."""

    name: str
    system: str
    directory: str
    file_prefix: str
    extension: str
    cadence: str  # "daily" or "snapshot"
    description: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    grain: str = ""
    key: tuple[str, ...] = ()
    cross_load: str = ""
    columns: tuple[Column, ...] = ()
    rules: tuple[RowRule, ...] = ()
    variants: Variants | None = None
    notes: tuple[str, ...] = ()

    @property
    def is_snapshot(self) -> bool:
        return self.cadence == "snapshot"

    @property
    def is_jsonl(self) -> bool:
        return self.extension == "jsonl"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"feed {self.name} has no column {name!r}")

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def phi_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.phi]

    def conditionally_required(self) -> list[tuple[str, str]]:
        """(discriminator value, column) pairs required only for that event type."""
        if self.variants is None:
            return []
        return [(name, col) for name, v in self.variants.types.items() for col in v.required]

    def reason_codes(self, dictionary: Dictionary) -> list[str]:
        """Every reason code a row of this feed can get, sorted."""
        codes = {"duplicate_row", "duplicate_key", "missing_required", "field_too_long"}
        codes.update(("not_json_object", "invalid_text") if self.is_jsonl else ("wrong_field_count",))
        for col in self.columns:
            type_code = dictionary.types[col.type].reason_code
            if type_code:
                codes.add(type_code)
            codes.update(dictionary.column_checks[check] for check in col.value_checks())
        codes.update(rule.code for rule in self.rules)
        return sorted(codes)


@dataclass(frozen=True)
class TypeSpec:
    """How a contract type is stored per engine and which code a value that fails to parse gets."""

    name: str
    sql: dict[str, str]
    reason_code: str | None
    format: str
    max_length: int = 0  # default length limit of its columns (bytes of UTF-8)


@dataclass(frozen=True)
class Limits:
    """Length bounds beyond the per-column ones (see `limits` in the YAML)."""

    record_max_chars: int = 4 << 20
    extra_columns_max_bytes: int = 4096
    quarantine_value_max_chars: int = 10000


@dataclass(frozen=True)
class CheckSpec:
    """A staging asset check: whether it blocks downstream assets, and what it asserts."""

    name: str
    blocking: bool
    description: str


@dataclass(frozen=True)
class Dictionary:
    """The parsed dictionary: feeds by name, in the order the file lists them, and the shared parts."""

    feeds: dict[str, Feed]
    raw: dict[str, Any] = field(compare=False, repr=False)
    types: dict[str, TypeSpec] = field(default_factory=dict, compare=False, repr=False)
    column_checks: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    reason_codes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    cross_load_rules: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    file_rejections: tuple[str, ...] = field(default=(), compare=False, repr=False)
    limits: Limits = field(default_factory=Limits, compare=False, repr=False)
    checks: dict[str, CheckSpec] = field(default_factory=dict, compare=False, repr=False)
    default_max_defect_rate: float = field(default=0.05, compare=False, repr=False)
    checksum: str = field(default="", compare=False, repr=False)

    def max_defect_rate(self) -> float:
        """The defect-rate threshold: env `ACA_MAX_DEFECT_RATE` if set, else the dictionary default."""
        text = os.environ.get(MAX_DEFECT_RATE_ENV, "").strip()
        if not text:
            return self.default_max_defect_rate
        try:
            value = float(text)
        except ValueError as exc:
            raise ConfigurationError(
                f"{MAX_DEFECT_RATE_ENV} must be a number in [0, 1], got {text!r}"
            ) from exc
        if not 0.0 <= value <= 1.0:
            raise ConfigurationError(f"{MAX_DEFECT_RATE_ENV} must be in [0, 1], got {value}")
        return value

    @cached_property
    def type_reason_codes(self) -> set[str]:
        return {t.reason_code for t in self.types.values() if t.reason_code}


def _range(spec: dict[str, Any] | None) -> ColumnRange | None:
    if spec is None:
        return None
    unknown = set(spec) - {"min", "max", "min_exclusive", "max_exclusive"}
    if unknown:
        raise ConfigurationError(f"dictionary: unknown range keys {sorted(unknown)}")
    return ColumnRange(**spec)


def _column(feed: str, spec: dict[str, Any], type_max_lengths: dict[str, int]) -> Column:
    known = {
        "max_length",
        "name",
        "type",
        "description",
        "required",
        "phi",
        "accepted_values",
        "pattern",
        "range",
        "non_negative",
        "npi_luhn",
    }
    unknown = set(spec) - known
    if unknown:
        raise ConfigurationError(f"dictionary: {feed}.{spec.get('name')}: unknown keys {sorted(unknown)}")
    values = spec.get("accepted_values")
    return Column(
        name=spec["name"],
        type=spec["type"],
        description=spec.get("description", ""),
        required=bool(spec.get("required", False)),
        phi=bool(spec.get("phi", False)),
        accepted_values=tuple(values) if values is not None else None,
        pattern=spec.get("pattern"),
        range=_range(spec.get("range")),
        non_negative=bool(spec.get("non_negative", False)),
        npi_luhn=bool(spec.get("npi_luhn", False)),
        max_length=int(spec.get("max_length") or type_max_lengths.get(spec["type"], 0)),
    )


def _rule(spec: dict[str, Any]) -> RowRule:
    kind = spec.get("kind", "predicate")
    period = spec.get("period")
    uses = tuple(spec.get("uses", ()))
    if kind == "overlap_with_earlier_row":
        uses = tuple(dict.fromkeys([*spec["same"], *spec["different"], *period]))
    return RowRule(
        code=spec["code"],
        description=spec["description"],
        uses=uses,
        kind=kind,
        violated_when=spec.get("violated_when"),
        same=tuple(spec.get("same", ())),
        different=tuple(spec.get("different", ())),
        period=tuple(period) if period else None,  # type: ignore[arg-type]
    )


def _variants(spec: dict[str, Any] | None) -> Variants | None:
    if spec is None:
        return None
    return Variants(
        discriminator=spec["discriminator"],
        types={
            name: EventVariant(
                name=name,
                fields=tuple(v.get("fields", ())),
                required=tuple(v.get("required", ())),
                description=v.get("description", ""),
            )
            for name, v in spec["types"].items()
        },
    )


def _feed(name: str, spec: dict[str, Any], type_max_lengths: dict[str, int]) -> Feed:
    return Feed(
        name=name,
        system=spec["system"],
        directory=spec["directory"],
        file_prefix=spec["file_prefix"],
        extension=spec["extension"],
        cadence=spec["cadence"],
        description=spec["description"],
        raw=spec,
        grain=spec.get("grain", ""),
        key=tuple(spec.get("key", ())),
        cross_load=spec.get("cross_load", ""),
        columns=tuple(_column(name, c, type_max_lengths) for c in spec.get("columns", ())),
        rules=tuple(_rule(r) for r in spec.get("rules", ())),
        variants=_variants(spec.get("variants")),
        notes=tuple(spec.get("notes", ())),
    )


def validate_dictionary(dictionary: Dictionary) -> None:
    """Fail fast on a dictionary the loaders could not honour (unknown codes, columns, types)."""
    problems: list[str] = []
    codes = dictionary.reason_codes
    for type_spec in dictionary.types.values():
        if type_spec.reason_code and type_spec.reason_code not in codes:
            problems.append(f"type {type_spec.name}: unknown reason code {type_spec.reason_code}")
    for check, code in dictionary.column_checks.items():
        if code not in codes:
            problems.append(f"column check {check}: unknown reason code {code}")
    for code in ("field_too_long", "invalid_text", "not_json_object", "wrong_field_count"):
        if code not in codes:
            problems.append(f"the reader's record code {code} is missing from reason_codes")
    if dictionary.column_checks.get("max_length") != "field_too_long":
        problems.append("column_checks.max_length must be field_too_long")
    for type_spec in dictionary.types.values():
        if type_spec.max_length < 1:
            problems.append(f"type {type_spec.name}: max_length must be a positive number of bytes")
    limits = dictionary.limits
    longest = max(
        [limits.extra_columns_max_bytes]
        + [c.max_length for f in dictionary.feeds.values() for c in f.columns]
    )
    if limits.quarantine_value_max_chars < longest:
        problems.append(
            f"limits.quarantine_value_max_chars ({limits.quarantine_value_max_chars}) must be at least the "
            f"longest max_length ({longest}): a value of allowed length is never truncated"
        )
    if limits.record_max_chars < 16 * limits.quarantine_value_max_chars:
        problems.append("limits.record_max_chars must be far above quarantine_value_max_chars")
    for feed in dictionary.feeds.values():
        names = feed.column_names
        if len(set(names)) != len(names):
            problems.append(f"{feed.name}: repeated column names")
        for col in feed.columns:
            if not _NAME_RE.match(col.name):
                problems.append(
                    f"{feed.name}.{col.name}: column names are lower_snake_case, not starting with _"
                )
            if col.type not in COLUMN_TYPES:
                problems.append(f"{feed.name}.{col.name}: unknown type {col.type}")
            if col.non_negative and col.type not in ("int", "decimal"):
                problems.append(f"{feed.name}.{col.name}: non_negative needs a numeric type")
            if col.range is not None and col.type not in ("int", "decimal", "date"):
                problems.append(f"{feed.name}.{col.name}: range needs an int, decimal or date column")
            if col.npi_luhn and col.type != "text":
                problems.append(f"{feed.name}.{col.name}: npi_luhn needs a text column")
            if col.max_length < 1:
                problems.append(f"{feed.name}.{col.name}: max_length must be a positive number of bytes")
        if feed.columns:
            for key_col in feed.key:
                if key_col not in names:
                    problems.append(f"{feed.name}: key column {key_col} is not a column")
                elif not feed.column(key_col).required:
                    problems.append(f"{feed.name}: key column {key_col} must be required")
            if feed.cross_load not in dictionary.cross_load_rules:
                problems.append(f"{feed.name}: unknown cross_load {feed.cross_load!r}")
        for rule in feed.rules:
            if rule.code not in codes:
                problems.append(f"{feed.name}: rule with unknown reason code {rule.code}")
            if rule.kind not in RULE_KINDS:
                problems.append(f"{feed.name}: rule {rule.code} has unknown kind {rule.kind}")
            if rule.kind == "predicate" and not rule.violated_when:
                problems.append(f"{feed.name}: rule {rule.code} needs violated_when")
            for col in rule.uses:
                if col not in names:
                    problems.append(f"{feed.name}: rule {rule.code} uses unknown column {col}")
        if feed.variants is not None:
            if feed.variants.discriminator not in names:
                problems.append(f"{feed.name}: unknown discriminator {feed.variants.discriminator}")
            else:
                accepted = feed.column(feed.variants.discriminator).accepted_values or ()
                if set(accepted) != set(feed.variants.types):
                    problems.append(
                        f"{feed.name}: variants must list exactly the discriminator's accepted values"
                    )
            for variant in feed.variants.types.values():
                for col in (*variant.fields, *variant.required):
                    if col not in names:
                        problems.append(f"{feed.name}: variant {variant.name} names unknown column {col}")
                if not set(variant.required) <= set(variant.fields):
                    problems.append(f"{feed.name}: variant {variant.name} requires a field it does not list")
    if problems:
        raise ConfigurationError("invalid data dictionary:\n  " + "\n  ".join(problems))


@cache
def load_dictionary(path: Path = DICTIONARY_PATH) -> Dictionary:
    """Parse (and validate) the dictionary once per process."""
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    type_max_lengths = {name: int(spec.get("max_length") or 0) for name, spec in raw.get("types", {}).items()}
    feeds = {name: _feed(name, spec, type_max_lengths) for name, spec in raw["feeds"].items()}
    checks_raw = raw.get("checks", {})
    limits_raw = raw.get("limits", {})
    unknown_limits = set(limits_raw) - {f.name for f in fields(Limits)}
    if unknown_limits:
        raise ConfigurationError(f"dictionary: unknown limits {sorted(unknown_limits)}")
    dictionary = Dictionary(
        feeds=feeds,
        raw=raw,
        types={
            name: TypeSpec(
                name=name,
                sql=spec["sql"],
                reason_code=spec.get("reason_code"),
                format=spec["format"],
                max_length=int(spec.get("max_length") or 0),
            )
            for name, spec in raw.get("types", {}).items()
        },
        column_checks=dict(raw.get("column_checks", {})),
        reason_codes=dict(raw.get("reason_codes", {})),
        cross_load_rules=dict(raw.get("cross_load_rules", {})),
        file_rejections=tuple(raw.get("file_rejections", ())),
        limits=Limits(**{k: int(v) for k, v in limits_raw.items()}),
        checks={
            name: CheckSpec(name=name, blocking=bool(spec["blocking"]), description=spec["description"])
            for name, spec in checks_raw.get("definitions", {}).items()
        },
        default_max_defect_rate=float(checks_raw.get("max_defect_rate", 0.05)),
        checksum=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    validate_dictionary(dictionary)
    return dictionary
