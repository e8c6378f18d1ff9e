"""Validation SQL generated from the data dictionary: raw text records -> typed rows with reason codes.

The statements judge a whole load batch at once (several files with one header layout in one
raw table, told apart by `_file`); every rule that looks at "the file" is partitioned by `_file`.
The same text serves DuckDB and PostgreSQL except for the few spellings in `Dialect`:

1. `build_typed_table_sql`: raw text trimmed (blank -> null) and safely cast (a value that does
   not parse becomes null; nothing ever raises), plus the load date of the record's file (from
   the batch's files table).
2. `build_key_sharers_sql` / `build_shared_records_sql` / `build_repeat_candidates_sql` /
   `build_duplicate_rows_sql`: exact repeats of an earlier line of the same file. Two equal
   records have equal keys, so only the records whose key repeats in their file (or lacks a
   part) are hashed, from the raw table; hash candidates are verified field by field.
3. `build_rejected_table_sql`: one boolean per column check (`flagged`), row rules guarded so
   they only see valid values, duplicate rows and duplicate keys (first line of the file wins),
   crosswalk overlaps within the file; then, for the records that earn a code only, the sorted
   `;`-joined `_reason_codes` and `_reason_details` (the other records are staged).

The raw values of bad rows are joined back from the raw table only when the quarantine is
written (`raw_values_sql`), so good rows never pay for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from aca_warehouse.contract.dictionary import Column, Dictionary, Feed, RowRule, load_dictionary
from aca_warehouse.staging.dialect import Dialect, sql_literal, sql_string
from aca_warehouse.staging.reader import RawLayout

# Integers and money: DuckDB's RE2 takes bounded repeats in its stride; PostgreSQL's regex engine
# is several times slower on them, so there the digit counts are checked with length() instead.
_INT_RE = "^-?[0-9]{1,10}$"
_INT_RE_UNBOUNDED = "^-?[0-9]+$"
_DECIMAL_RE = "^-?[0-9]{1,16}([.][0-9]{1,2})?$"
_DECIMAL_RE_UNBOUNDED = "^-?[0-9]+([.][0-9][0-9]?)?$"
# A real calendar day YYYY-MM-DD (year 0001-9999), leap years included, as one regular expression
# so the engines evaluate one match per value instead of a dozen substr/cast calls.
_YEAR = "([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_MONTH_DAY = (
    "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_DAY = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)-02-29"
_DAY = f"({_YEAR}-{_MONTH_DAY}|{_LEAP_DAY})"
_DATE_RE = f"^{_DAY}$"
_TIMESTAMP_RE = (
    f"^{_DAY}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?"
    "(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)$"
)
_NPI_RE = "^[0-9]{10}$"
_FAR_FUTURE = "date '9999-12-31'"


@dataclass(frozen=True)
class Flag:
    """One boolean per row: column `column` (or rule) broke a check that raises `code`."""

    name: str
    code: str
    detail: str
    column: str | None  # the column whose value it judges (None for row rules and duplicates)
    conditional: bool = False  # a per-event-type requirement: does not make the value itself invalid


def text_column(column: Column) -> str:
    """Name of the trimmed text of a column in the typed table (text columns are their own text)."""
    return column.name if column.type == "text" else f"_s_{column.name}"


def plain_day_sql(text: str) -> str:
    """True for `YYYY-MM-DD` with a day 01-28 (valid in every month and year): the common case,
    decided without a regular expression (for PostgreSQL, whose regex engine is slow on the full
    calendar pattern)."""
    return (
        f"({text} like '____-__-__' and translate({text}, '0123456789', '') = '--' "
        f"and substr({text}, 6, 2) between '01' and '12' and substr({text}, 9, 2) between '01' and '28' "
        f"and substr({text}, 1, 4) <> '0000')"
    )


def typed_value_sql(dictionary: Dictionary, dialect: Dialect, column: Column, text: str) -> str:
    """The typed value of trimmed text `text`, or null when it does not parse (never an error).

    Both engines accept exactly the same texts (tests hold them to one table of cases); the SQL
    differs where one engine is much faster with another formulation.
    """
    sql_type = dialect.column_type(dictionary, column.type)
    if column.type == "text":
        return text
    if column.type == "int":
        if dialect.is_duckdb:  # ten digits at most: try_cast is null exactly when the value exceeds int32
            return f"case when {dialect.regex_match(text, _INT_RE)} then try_cast({text} as {sql_type}) end"
        form = f"{dialect.regex_match(text, _INT_RE_UNBOUNDED)} and length({text}) <= 11"
        fits = f"cast({text} as bigint) between -2147483648 and 2147483647"
        return f"case when {form} then case when {fits} then cast({text} as {sql_type}) end end"
    if column.type == "decimal":
        if dialect.is_duckdb:
            form = dialect.regex_match(text, _DECIMAL_RE)
        else:
            digits = f"length(replace(split_part({text}, '.', 1), '-', '')) <= 16"
            form = f"{dialect.regex_match(text, _DECIMAL_RE_UNBOUNDED)} and {digits}"
        return f"case when {form} then cast({text} as {sql_type}) end"
    if column.type == "date":
        cast = f"cast({text} as {sql_type})"
        if dialect.is_duckdb:
            # DuckDB's own date parser, and its canonical text must be the text itself: that holds
            # exactly for YYYY-MM-DD with a real day of years 0001-9999 (another year has more digits
            # or a BC suffix; 'infinity' is not ten characters); a third cheaper than a pattern match.
            parsed = f"try_cast({text} as {sql_type})"
            return f"case when strlen({text}) = 10 and cast({parsed} as VARCHAR) = {text} then {parsed} end"
        return f"case when {plain_day_sql(text)} then {cast} when {dialect.regex_match(text, _DATE_RE)} then {cast} end"
    if column.type == "timestamp":
        return (
            f"case when {dialect.regex_match(text, _TIMESTAMP_RE)} "
            f"then cast({dialect.truncate_fraction(text)} as {sql_type}) end"
        )
    raise ValueError(f"unknown column type {column.type}")


def npi_luhn_valid_sql(dialect: Dialect, text: str) -> str:
    """True when `text` is 10 digits whose last is the Luhn check digit of 80840 + the first 9."""
    terms = ["24"]  # the digits of the 80840 prefix contribute 24 to the Luhn sum
    for position in range(1, 11):
        digit = f"(ascii(substr({text}, {position}, 1)) - 48)"  # cheaper than a cast per digit
        if position % 2 == 1 and position < 10:  # doubled, counting from the check digit: 2d or 2d - 9
            terms.append(f"(case when {digit} >= 5 then 2 * {digit} - 9 else 2 * {digit} end)")
        else:
            terms.append(digit)
    return (
        f"case when {dialect.regex_match(text, _NPI_RE)} then mod({' + '.join(terms)}, 10) = 0 else false end"
    )


def npi_number_luhn_valid_sql(number: str) -> str:
    """`npi_luhn_valid_sql` on the NPI as a number (null when the text is not 10 digits): integer
    arithmetic, several times cheaper on DuckDB than a substr per digit."""
    terms = ["24"]  # the digits of the 80840 prefix contribute 24 to the Luhn sum
    for position in range(1, 11):
        digit = f"(({number} // {10 ** (10 - position)}) % 10)"
        if position % 2 == 1 and position < 10:  # doubled, counting from the check digit: 2d or 2d - 9
            terms.append(f"(case when {digit} >= 5 then 2 * {digit} - 9 else 2 * {digit} end)")
        else:
            terms.append(digit)
    return f"coalesce(mod({' + '.join(terms)}, 10) = 0, false)"


def npi_number_sql(text: str) -> str:
    """DuckDB: the NPI text as a BIGINT when it is 10 digits (else null), for `npi_number_luhn_valid_sql`."""
    return f"case when regexp_matches({text}, {sql_string(_NPI_RE)}) then cast({text} as BIGINT) end"


def _bound(value: float | str) -> str:
    return sql_literal(value) if isinstance(value, int | float) else f"({value})"


def byte_length(dialect: Dialect, expr: str) -> str:
    """Length of a text in bytes of UTF-8 (constant time on both engines, unlike a character count)."""
    return f"strlen({expr})" if dialect.is_duckdb else f"octet_length({expr})"


def column_flags(dictionary: Dictionary, dialect: Dialect, feed: Feed) -> list[tuple[Flag, str]]:
    """(flag, SQL condition) for every column-level check of the feed, in column order.

    A value longer than its column's `max_length` gets field_too_long and no other check of that
    column runs on it; the unknown extra columns of a row are bounded together."""
    flags: list[tuple[Flag, str]] = []
    checks = dictionary.column_checks
    too_long_code = checks["max_length"]

    def add(column: str | None, code: str, detail: str, condition: str, conditional: bool = False) -> None:
        flags.append((Flag(f"_x{len(flags)}", code, detail, column, conditional), condition))

    for col in feed.columns:
        c, s = col.name, text_column(col)
        fits = f"{byte_length(dialect, s)} <= {col.max_length}"

        def add_checked(code: str, detail: str, condition: str, c: str = c, fits: str = fits) -> None:
            add(c, code, detail, f"({condition}) and {fits}")

        add(
            c,
            too_long_code,
            f"{too_long_code}: {c} longer than {col.max_length} bytes",
            f"{byte_length(dialect, s)} > {col.max_length}",
        )
        if col.required:
            add(c, "missing_required", f"missing_required: {c}", f"{s} is null")
        type_code = dictionary.types[col.type].reason_code
        if type_code:
            add_checked(type_code, f"{type_code}: {c}", f"{s} is not null and {c} is null")
        if col.accepted_values is not None:
            values = ", ".join(sql_literal(v) for v in col.accepted_values)
            add_checked(
                checks["accepted_values"], f"{checks['accepted_values']}: {c}", f"{c} not in ({values})"
            )
        if col.pattern is not None:
            add_checked(
                checks["pattern"],
                f"{checks['pattern']}: {c}",
                f"not {dialect.regex_match(c, col.pattern)}",
            )
        if col.range is not None:
            r = col.range
            parts = []
            if r.min is not None:
                parts.append(f"{c} < {_bound(r.min)}")
            if r.min_exclusive is not None:
                parts.append(f"{c} <= {_bound(r.min_exclusive)}")
            if r.max is not None:
                parts.append(f"{c} > {_bound(r.max)}")
            if r.max_exclusive is not None:
                parts.append(f"{c} >= {_bound(r.max_exclusive)}")
            add_checked(checks["range"], f"{checks['range']}: {c} must be {r.describe()}", " or ".join(parts))
        if col.non_negative:
            add_checked(checks["non_negative"], f"{checks['non_negative']}: {c}", f"{c} < 0")
        if col.npi_luhn:
            add_checked(
                checks["npi_luhn"],
                f"{checks['npi_luhn']}: {c}",
                f"{c} is not null and not ({npi_number_luhn_valid_sql(f'_n_{c}')})"
                if dialect.is_duckdb  # the typed table has the number (`build_typed_table_sql`)
                else f"{c} is not null and not ({npi_luhn_valid_sql(dialect, c)})",
            )
    if feed.variants is not None:
        disc = feed.variants.discriminator
        for type_name, col_name in feed.conditionally_required():
            add(
                col_name,
                "missing_required",
                f"missing_required: {col_name} (required for {type_name})",
                f"{disc} = {sql_string(type_name)} and {text_column(feed.column(col_name))} is null",
                conditional=True,
            )
    extra_max = dictionary.limits.extra_columns_max_bytes
    add(
        None,
        too_long_code,
        f"{too_long_code}: unknown extra columns longer than {extra_max} bytes together",
        f"{byte_length(dialect, '_extra_json')} > {extra_max}",
    )
    return flags


def _guard(flags: list[tuple[Flag, str]], columns: tuple[str, ...], alias: str = "") -> str:
    """True when none of the columns broke a column-level check (so rules can use their values)."""
    names = [f"{alias}{flag.name}" for flag, _ in flags if flag.column in columns and not flag.conditional]
    return " and ".join(f"not {n}" for n in names) if names else "true"


def _overlap_sql(rule: RowRule, flags: list[tuple[Flag, str]]) -> str:
    assert rule.period is not None
    start, end = rule.period
    same = " and ".join(f"e.{c} = f.{c}" for c in rule.same)
    different = " or ".join(f"e.{c} <> f.{c}" for c in rule.different)
    return (
        f"exists (select 1 from flagged e where e._file = f._file and {same} and e._line < f._line"
        f" and ({different})"
        f" and e.{start} <= coalesce(f.{end}, {_FAR_FUTURE}) and f.{start} <= coalesce(e.{end}, {_FAR_FUTURE})"
        f" and e._problem is null and not e._dup_row and not e._key_repeat and {_guard(flags, rule.uses, 'e.')})"
    )


def trimmed_text(dialect: Dialect, raw_column: str) -> str:
    """A raw field trimmed, blank -> null; only records the reader marked `_trim` pay for the trim."""
    return f"case when _trim is not null then {dialect.trim_to_null(raw_column)} else {raw_column} end"


def row_hash_sql(dialect: Dialect, layout: RawLayout) -> str:
    """A hash of the raw record (of the raw table's columns); equal hashes make two lines candidates
    for duplicate_row."""
    columns = layout.duplicate_row_columns
    if dialect.is_duckdb:
        return f"hash({', '.join(columns)})"
    text = dialect.concat_ws("", [f"coalesce({c}, '')" for c in columns], separator_sql="chr(31)")
    return f"hashtextextended({text}, 0)"  # 64-bit; candidates are verified field by field


def truncated_sql(dialect: Dialect, expr: str, limit: int) -> str:
    """A raw value as the quarantine keeps it: whole, or its first `limit` characters and a marker
    (the same form as the reader's `truncated()`)."""
    length = f"length({expr})"
    marker = f"'...[truncated: ' || cast({length} as {dialect.text}) || ' characters]'"
    return f"case when {length} > {limit} then substr({expr}, 1, {limit}) || {marker} else {expr} end"


def raw_values_sql(dialect: Dialect, layout: RawLayout, alias: str, limit: int | None = None) -> str:
    """JSON text of a raw record of the raw table aliased `alias` (for the quarantine). A raw value
    longer than `limit` characters is kept truncated (a record-level problem's `_raw` already is);
    a JSON Lines line that is, becomes a JSON string of its truncated text. `limit` defaults to the
    dictionary's `limits.quarantine_value_max_chars`."""
    if limit is None:
        limit = load_dictionary().limits.quarantine_value_max_chars
    if layout.is_jsonl:
        raw = f"{alias}._raw"
        as_json_string = f"cast(to_json({truncated_sql(dialect, raw, limit)}) as {dialect.text})"
        return f"case when {alias}._problem is null and length({raw}) > {limit} then {as_json_string} else {raw} end"
    pairs = [
        (name, truncated_sql(dialect, f"{alias}.{column}", limit)) for name, column in layout.raw_record_pairs
    ]
    return (
        f"case when {alias}._problem is not null then {alias}._raw else {dialect.json_object_text(pairs)} end"
    )


def build_typed_table_sql(
    dictionary: Dictionary,
    dialect: Dialect,
    layout: RawLayout,
    raw_table: str,
    typed_table: str,
    files_table: str,
    sample_lines: str | None = None,
) -> str:
    """`create temp table <typed_table> as ...`: raw text trimmed (blank -> null) and safely cast.

    Columns: `_file`, `_line`, `_problem`, `_detail`, `_load_date`, `_extra_json`, every contract
    column typed (null when its text does not parse) and, for non-text columns, the trimmed text
    as `_s_<column>` (so a value that failed to parse can be told from a null).
    `files_table` (`_file`, `_load_date`) lists the batch's files that were read to the end: the
    inner join leaves out any records of a file rejected halfway through. With `sample_lines` (a
    table of `_file`, `_line`: the engine reader's sample lines), `_sample_hash` is the raw record's
    hash on those lines (null elsewhere), checked against the sample's text.
    """
    cols = layout.feed.columns
    source = ["_file", "_line", "_problem", "_detail"]
    if sample_lines is not None:  # a membership probe per record is far cheaper than a hash of each
        source.append(
            f"case when _problem is null and (_file, _line) in (select _file, _line from {sample_lines}) "
            f"then {row_hash_sql(dialect, layout)} end as _sample_hash"
        )
    for col in cols:
        source.append(f"{trimmed_text(dialect, layout.contract_source[col.name])} as _s_{col.name}")
    if layout.extra_json_column:
        source.append(f"{layout.extra_json_column} as _extra_json")
    elif layout.extra_columns:
        pairs = [(name, trimmed_text(dialect, raw)) for name, raw in layout.extra_columns]
        source.append(f"case when _problem is null then {dialect.json_object_text(pairs)} end as _extra_json")
    else:
        source.append(f"cast(null as {dialect.text}) as _extra_json")
    typed = ["s._file", "_line", "_problem", "_detail", "_extra_json", "fl._load_date"]
    if sample_lines is not None:
        typed.append("_sample_hash")
    for col in cols:
        typed.append(f"{typed_value_sql(dictionary, dialect, col, '_s_' + col.name)} as {col.name}")
        if col.type != "text":
            typed.append(f"_s_{col.name}")
        if col.npi_luhn and dialect.is_duckdb:
            typed.append(f"{npi_number_sql('_s_' + col.name)} as _n_{col.name}")
    nl = ",\n    "
    fence = "" if dialect.is_duckdb else "\n    offset 0"  # PostgreSQL: trim once, not once per use
    return (
        f"create temp table {typed_table} as\nselect\n    {nl.join(typed)}\nfrom (\n"
        f"    select\n    {nl.join(source)}\n    from {raw_table}{fence}\n) s\n"
        f"join {files_table} fl on fl._file = s._file"
    )


def build_key_sharers_sql(feed: Feed, typed_table: str, sharers_table: str) -> str:
    """`create temp table <sharers_table>`: (file, line) of the records whose key repeats in their
    file or lacks a part: the only records that can exactly repeat another (equal raw records type
    to equal keys), usually none. One aggregate over the keys instead of a hash of every record."""
    key = feed.key
    key_cols = ", ".join(key)
    key_not_null = " and ".join(f"{c} is not null" for c in key)
    key_join = " and ".join(["g._file = t._file", *[f"g.{c} = t.{c}" for c in key]])
    key_null = " or ".join(f"t.{c} is null" for c in key)
    return f"""create temp table {sharers_table} as
select t._file, t._line
from {typed_table} t
left join (
    select _file, {key_cols} from {typed_table}
    where _problem is null and {key_not_null} group by _file, {key_cols} having count(*) > 1
) g on {key_join}
where t._problem is null and (g._file is not null or {key_null})"""


def build_shared_records_sql(
    dialect: Dialect, layout: RawLayout, raw_table: str, sharers_table: str, shared_table: str
) -> str:
    """`create temp table <shared_table>`: the raw records of the key sharers with their `_row_hash`
    (one read of the raw table, for the candidates and their field-by-field check)."""
    return f"""create temp table {shared_table} as
select r.*, {row_hash_sql(dialect, layout)} as _row_hash
from {raw_table} r
join {sharers_table} s on s._file = r._file and s._line = r._line"""


def build_repeat_candidates_sql(hashed_table: str, candidates_table: str) -> str:
    """`create temp table <candidates_table>`: (file, line, first line of the file with the same
    record hash) of every later line of `hashed_table` (records with `_row_hash`) whose hash repeats
    an earlier line of its file (usually a handful of rows)."""
    return f"""create temp table {candidates_table} as
select t._file, t._line, f._first_line
from {hashed_table} t
join (
    select _file, _row_hash, min(_line) as _first_line from {hashed_table}
    where _problem is null group by _file, _row_hash
) f on f._file = t._file and f._row_hash = t._row_hash
where t._line > f._first_line"""


def build_duplicate_rows_sql(
    layout: RawLayout, raw_table: str, candidates_table: str, duplicates_table: str
) -> str:
    """`create temp table <duplicates_table>`: (file, line) of the candidate lines whose raw fields
    all equal their first line's (the hash only proposes; this compares field by field, on the few
    rows involved)."""
    same = " and ".join(f"a.{c} is not distinct from b.{c}" for c in layout.duplicate_row_columns)
    return f"""create temp table {duplicates_table} as
with wanted as (
    select _file, _line from {candidates_table} union select _file, _first_line from {candidates_table}
),
involved as (
    select r.* from {raw_table} r join wanted w on w._file = r._file and w._line = r._line
)
select c._file, c._line
from {candidates_table} c
join involved a on a._file = c._file and a._line = c._line
join involved b on b._file = c._file and b._line = c._first_line
where {same}"""


def build_rejected_table_sql(
    dictionary: Dictionary,
    dialect: Dialect,
    layout: RawLayout,
    typed_table: str,
    duplicates_table: str,
    rejected_table: str,
) -> str:
    """`create temp table <rejected_table> as ...`: every typed record judged; the rejected ones explained.

    One pass over the typed table evaluates every check; only the records that earn a reason code
    are written: `_file`, `_line`, `_reason_codes` (never '') and `_reason_details`. The staged rows
    are the typed records without a row here (the good rows are not copied a second time), and
    the raw values of bad rows are joined back from the raw table by (`_file`, `_line`) when the
    quarantine is written (see `raw_values_sql`).
    `duplicates_table` lists the lines that exactly repeat an earlier line of their file
    (`build_duplicate_rows_sql`). Keys, repeats and overlaps are compared within a file only.
    """
    feed = layout.feed
    key = feed.key

    # flagged: column checks, exact repeats (`build_duplicate_rows_sql`), key repeats
    flags = column_flags(dictionary, dialect, feed)
    flagged = [f"coalesce({cond}, false) as {flag.name}" for flag, cond in flags]
    flagged.append("(dr._line is not null) as _dup_row")
    flagged.append("coalesce(t._line > kf._first_line, false) as _key_repeat")
    key_cols = ", ".join(key)
    key_not_null = " and ".join(f"{c} is not null" for c in key)
    key_join = " and ".join(["kf._k_file = t._file", *[f"kf._k_{c} = t.{c}" for c in key]])
    key_aliases = ", ".join(f"{c} as _k_{c}" for c in key)

    # ruled: row rules (guarded so they only see valid values), duplicate keys
    # overlaps: one CTE per overlap rule listing the lines that overlap an earlier line of their
    # file; a semi-join there (not a correlated subquery per row, which PostgreSQL evaluates as a
    # scan of every row of the batch) keeps the rule linear in the batch
    rule_flags: list[tuple[Flag, str]] = []
    overlap_ctes: list[str] = []
    overlap_joins: list[str] = []
    for i, rule in enumerate(feed.rules):
        flag = Flag(f"_r{i}", rule.code, f"{rule.code}: {rule.description}", None)
        if rule.kind == "overlap_with_earlier_row":
            overlap_ctes.append(
                f"overlap_{i} as (\n    select f._file as _o_file, f._line as _o_line from flagged f\n"
                f"    where {_overlap_sql(rule, flags)}\n)"
            )
            overlap_joins.append(
                f"\n    left join overlap_{i} o{i} on o{i}._o_file = f._file and o{i}._o_line = f._line"
            )
            condition = f"{_guard(flags, rule.uses, 'f.')} and o{i}._o_line is not null"
        else:
            condition = f"{_guard(flags, rule.uses, 'f.')} and ({rule.violated_when})"
        rule_flags.append((flag, condition))
    ruled = [f"coalesce({cond}, false) as {flag.name}" for flag, cond in rule_flags]
    ruled.append("(f._key_repeat and not f._dup_row) as _dup_key")
    dup_key = Flag(
        "_dup_key", "duplicate_key", f"duplicate_key: repeats the key ({key_cols}) of an earlier line", None
    )
    dup_row = Flag("_dup_row", "duplicate_row", "duplicate_row: exact repeat of an earlier line", None)

    # final: sorted codes, details in column order
    all_flags = [flag for flag, _ in flags] + [flag for flag, _ in rule_flags] + [dup_row, dup_key]
    code_parts = []
    for code in sorted({flag.code for flag in all_flags}):
        names = " or ".join(flag.name for flag in all_flags if flag.code == code)
        code_parts.append(f"case when {names} then {sql_string(code)} end")
    detail_parts = [f"case when {flag.name} then {sql_string(flag.detail)} end" for flag in all_flags]
    any_flag = " or ".join(flag.name for flag in all_flags)
    final = [
        "_file",
        "_line",
        f"case when _problem is not null then _problem else {dialect.concat_ws(';', code_parts)} end as _reason_codes",
        f"case when _problem is not null then _problem || ': ' || _detail "
        f"else {dialect.concat_ws('; ', detail_parts)} end as _reason_details",
    ]
    # PostgreSQL pulls CTEs up into the final select and would evaluate each flag again for the
    # codes, the details and every guard: `offset 0` keeps each stage a computed-once subquery
    # (DuckDB eliminates the common subexpressions itself). The overlap rule reads `flagged`
    # twice, so it is materialized then.
    overlap = any(rule.kind == "overlap_with_earlier_row" for rule in feed.rules)
    fence = "" if dialect.is_duckdb else "\n    offset 0"
    # Most records are clean: only the records some check could fire on get their flags, codes and
    # details computed. Every flag implies its bare condition (a column flag is its condition under
    # coalesce, a rule flag also under its guard), so their OR admits every record the final filter
    # keeps, at a fraction of the cost of some 80 flag columns per record. The overlap rule reads
    # every record's flags (an earlier line's guards), so a feed with one judges every record.
    suspect = ""
    if not overlap:
        conditions = [
            "t._problem is not null",
            "dr._line is not null",
            "t._line > kf._first_line",
            *(cond for _, cond in flags),
            *(rule.violated_when for rule in feed.rules),
        ]
        suspect = "\n    where " + "\n        or ".join(f"({c})" for c in conditions)
    # DuckDB materializes CTEs by default: a copy of every typed record (and its flags) per stage
    inline = "not materialized " if dialect.is_duckdb else ""
    nl = ",\n        "
    return f"""create temp table {rejected_table} as
with key_first as {inline}(
    select _file as _k_file, {key_aliases}, min(_line) as _first_line from {typed_table}
    where _problem is null and {key_not_null} group by _file, {key_cols}
),
flagged as {"materialized " if overlap else inline}(
    select t.*,
        {nl.join(flagged)}
    from {typed_table} t
    left join {duplicates_table} dr on dr._file = t._file and dr._line = t._line
    left join key_first kf on {key_join}{suspect}{fence}
),{"".join(chr(10) + cte + "," for cte in overlap_ctes)}
ruled as {inline}(
    select f.*,
        {nl.join(ruled)}
    from flagged f{"".join(overlap_joins)}{fence}
)
select
    {nl.join(final)}
from ruled
where _problem is not null or {any_flag}"""
