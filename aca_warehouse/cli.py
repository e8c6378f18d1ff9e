"""The `aca-warehouse` command: the headless path through the same Dagster assets and checks as the UI."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from aca_warehouse.errors import AcaWarehouseError, ConfigurationError, PipelineFailedError
from aca_warehouse.settings import PROJECT_ROOT, Settings, load_settings, member_key_secret, redact

DAGSTER_HOME_DEFAULT = PROJECT_ROOT / ".dagster_home"
DEV_INSTANCE_TEMPLATE = PROJECT_ROOT / "deploy" / "dagster.dev.yaml"


# A range run records events per asset and load date. Measured (docs/BENCHMARKS.md): one
# "planned" event per asset-partition spent 297 s of an 836 s two-year run on SQLite. One planned
# event per asset instead (the run's failure still shows; its partitions are not marked failed),
# and materializations written in batches where the storage can (dagster-postgres).
RANGE_RUN_EVENT_SETTINGS = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
}


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME, or the project's `.dagster_home` (shared with `make ui`, so runs show there)."""
    home = Path(os.environ.get("DAGSTER_HOME") or DAGSTER_HOME_DEFAULT).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and DEV_INSTANCE_TEMPLATE.exists():
        config.write_text(DEV_INSTANCE_TEMPLATE.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    for name, value in RANGE_RUN_EVENT_SETTINGS.items():
        os.environ.setdefault(name, value)
    return home


def report_ignored_files(landing_dir: Path) -> int:
    """Print every file of the feed folders that is not loaded, naming it and saying why; how many."""
    from aca_warehouse.landing import scan_landing_with_ignored

    _, ignored = scan_landing_with_ignored(landing_dir)
    shown = [i for i in ignored if not i.is_hidden]
    for item in shown:
        print(f"ignored {item}", file=sys.stderr)
    return len(shown)


def _landing_range(landing_dir: Path) -> tuple[date, date, int]:
    from aca_warehouse.landing import scan_landing

    files = [f for feed_files in scan_landing(landing_dir).values() for f in feed_files]
    if not files:
        raise AcaWarehouseError(
            f"no landing files under {landing_dir} (expected e.g. claims_system/claims/claims_YYYY-MM-DD.csv); "
            "generate a demo set with `aca-warehouse generate` or point --landing at the files"
        )
    dates = [f.load_date for f in files]
    return min(dates), max(dates), len(files)


def load_definitions():  # noqa: ANN201 - (Definitions, job name); dagster imported lazily
    """The code location, or a clear error when the dbt manifest has not been prepared."""
    from dagster_dbt.errors import DagsterDbtManifestNotFoundError

    try:
        from aca_warehouse.definitions import LOAD_EVERYTHING_JOB, defs
    except DagsterDbtManifestNotFoundError as exc:
        raise ConfigurationError(
            f"the dbt manifest is missing ({exc}); prepare it once with `make dbt-manifest` "
            "(or `cd dbt && dbt parse --profiles-dir . --project-dir .`)"
        ) from exc
    return defs, LOAD_EVERYTHING_JOB


def check_warehouse_reachable(settings: Settings) -> None:
    """Open the warehouse once before the run starts: a DSN that cannot work (malformed, unknown host,
    wrong password) or a DuckDB file another run holds fails here, once, in a few lines, instead of
    in every step of the run."""
    from aca_warehouse.resources import WarehouseResource

    with WarehouseResource.from_settings(settings).connect():
        pass


def run_pipeline(
    landing_dir: Path | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    full_refresh: bool = False,
) -> int:
    """Materialize every asset and check for every load date the landing directory holds (one run)."""
    if landing_dir is not None:
        os.environ["ACA_LANDING_DIR"] = str(landing_dir.resolve())
    settings = load_settings()
    member_key_secret()  # a missing or public secret stops here, before anything is loaded
    report_ignored_files(settings.landing_dir)
    first, last, n_files = _landing_range(settings.landing_dir)
    start = start or first
    end = end or last
    from aca_warehouse.partitions import first_partition_date

    first_partition = first_partition_date(settings)
    if start < first_partition:
        raise AcaWarehouseError(
            f"--from {start} is before the first partition {first_partition}; "
            "set ACA_PARTITION_START to an earlier date"
        )
    if start > end:
        raise AcaWarehouseError(f"--from {start} is after --to {end}")
    from aca_warehouse.landing import latest_load_date

    if end > latest_load_date():
        raise AcaWarehouseError(
            f"--to {end} is in the future; partitions exist up to today ({latest_load_date()}, UTC)"
        )
    check_warehouse_reachable(settings)
    ensure_dagster_home()
    from dagster import DagsterInstance

    defs, job_name = load_definitions()

    print(
        f"Loading {n_files} landing file(s) from {settings.landing_dir}, load dates {start} .. {end}, "
        f"into {settings.warehouse} ({_warehouse_place(settings)})",
        flush=True,
    )
    job = defs.resolve_job_def(job_name)
    with DagsterInstance.get() as instance:
        run_config: dict[str, object] = {
            # Step starts, ends and failures on the console; every event stays in the run's log (UI).
            "loggers": {"console": {"config": {"log_level": os.environ.get("ACA_LOG_LEVEL", "INFO")}}}
        }
        if full_refresh:  # rebuild the incremental models from every staged load (e.g. a new secret)
            run_config["ops"] = {"aca_dbt_models": {"config": {"full_refresh": True}}}
        result = job.execute_in_process(
            instance=instance,
            run_config=run_config,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "aca/trigger": "cli",
            },
            raise_on_error=False,
        )
    report_run(result)
    return 0


def report_run(result) -> None:  # noqa: ANN001 - ExecuteInProcessResult
    """Print check results and raise PipelineFailedError naming what failed."""
    evaluations = result.get_asset_check_evaluations()
    failed_checks = [e for e in evaluations if not e.passed]
    warned = [e for e in failed_checks if getattr(e.severity, "value", e.severity) == "WARN"]
    problems: list[str] = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        message = (error.message.strip() if error else "step failed").splitlines()[0]
        cause = error.cause if error else None
        while cause is not None:  # the user's error is usually the innermost cause
            message = cause.message.strip().splitlines()[0]
            cause = cause.cause
        problems.append(f"step {event.step_key}: {redact(message)}")
    # The staging checks report per partition: one line per check, naming its partitions.
    partitions_by_check: dict[tuple[str, str, str], list[str]] = {}
    for evaluation in failed_checks:
        severity = getattr(evaluation.severity, "value", evaluation.severity)
        verdict = "warned" if severity == "WARN" else "failed"
        key = (evaluation.check_name, evaluation.asset_key.to_user_string(), verdict)
        partitions_by_check.setdefault(key, []).extend([evaluation.partition] if evaluation.partition else [])
    for (check_name, asset_key, verdict), partitions in partitions_by_check.items():
        where = ""
        if partitions:
            more = f" and {len(partitions) - 5} more" if len(partitions) > 5 else ""
            where = f" for load date(s) {', '.join(sorted(partitions)[:5])}{more}"
        problems.append(f"check {check_name} on {asset_key} {verdict}{where}")
    print(
        f"Asset checks: {len(evaluations) - len(failed_checks)} passed, "
        f"{len(failed_checks) - len(warned)} failed, {len(warned)} warned"
    )
    if not result.success:
        raise PipelineFailedError(
            f"run {result.run_id} failed:\n  " + "\n  ".join(problems or ["see the run's logs in the UI"])
        )
    for line in problems:
        print(f"warning: {line}")


def print_summary() -> None:
    """Row counts of every warehouse table, and how to look further."""
    from aca_warehouse.resources import WarehouseResource

    warehouse = WarehouseResource.from_settings(load_settings())
    with warehouse.connect() as conn:
        tables = conn.fetchall(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'core', 'marts') order by 1, 2"
            if conn.is_duckdb
            else "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('staging', 'core', 'marts') and c.relkind in ('r', 'p', 'v') "
            "and not c.relispartition order by 1, 2"  # partitions are counted in their parent
        )
        print(f"\nWarehouse: {warehouse.description}")
        for schema, table in tables:
            count = conn.scalar(f'select count(*) from "{schema}"."{table}"')
            print(f"  {schema}.{table:<32} {count:>10,} rows")
    print("\nOpen the Dagster UI with `make ui` (http://127.0.0.1:3000).")


def _warehouse_place(settings: Settings) -> str:
    """Where the run loads: the DuckDB file, the PostgreSQL database, or the lake and its staging file."""
    if settings.warehouse == "spark":
        return f"lake {settings.lake_dir}, staging in {settings.duckdb_path}"
    return str(settings.duckdb_path) if settings.engine == "duckdb" else settings.pg.dbname


def _open_read_only(settings):  # noqa: ANN001, ANN202 - a DB-API connection of the configured warehouse
    """The configured warehouse opened read-only: DuckDB's read-only mode, a read-only PostgreSQL session."""
    from aca_warehouse.resources.warehouse import duckdb_busy_error, is_duckdb_lock_error

    # Lake mode too: its DuckDB file holds staging, and views of the tables Spark built.
    if settings.engine == "duckdb":
        import duckdb

        path = settings.duckdb_path
        if not path.exists():
            raise AcaWarehouseError(
                f"no DuckDB warehouse at {path}: `make run` builds it (or set ACA_DUCKDB_PATH)"
            )
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            if is_duckdb_lock_error(
                exc
            ):  # a run is writing: DuckDB then admits no reader from another process
                raise duckdb_busy_error(path, exc) from None
            raise AcaWarehouseError(f"cannot open {path}: {str(exc).splitlines()[0]}") from None
    import psycopg

    from aca_warehouse.resources.warehouse import WarehouseResource

    try:
        conn = psycopg.connect(settings.pg_dsn, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise WarehouseResource(kind="postgres", pg_dsn=settings.pg_dsn)._pg_unreachable(exc) from None
    conn.read_only = True  # every statement runs in a READ ONLY transaction
    return conn


def run_sql(query: str, max_rows: int = 100) -> int:
    """Print the result of one query on the configured warehouse (ACA_WAREHOUSE), opened read-only, as an
    aligned text table of at most `max_rows` rows; how many rows there were. The CLI's `sql` command."""
    settings = load_settings()
    conn = _open_read_only(settings)
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(query)
        except Exception as exc:  # the database's own message: a syntax error, an unknown table, a write
            raise AcaWarehouseError(f"query failed: {redact(str(exc).strip().splitlines()[0])}") from None
        if cursor.description is None:
            print("(no result)")
            return 0
        header = [d[0] for d in cursor.description]
        rows = [["NULL" if v is None else str(v) for v in row] for row in cursor.fetchmany(max_rows + 1)]
    finally:
        conn.close()
    shown = rows[:max_rows]
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in shown:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if len(rows) > max_rows:
        print(f"(the first {max_rows} rows; --max-rows for more)")
    else:
        print(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return len(shown)


def _cmd_sql(args: argparse.Namespace) -> int:
    run_sql(args.query, args.max_rows)
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    """Become `dagster dev` (webserver, daemon, code server) with Ctrl-C and SIGTERM stopping it.

    `uv run` starts its command with SIGINT ignored, and `dagster dev` handles SIGTERM as it handles
    SIGINT: started through `uv run` (as `make ui` does) it ignored both and never stopped. Both go
    back to their defaults before the exec, so `dagster dev` installs its own shutdown handling.
    """
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    workspace = PROJECT_ROOT / "workspace.yaml"
    argv = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        args.host,
        "-p",
        str(args.port),
        "-w",
        str(workspace),
    ]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover - execv does not return


def _cmd_run(args: argparse.Namespace) -> int:
    landing = Path(args.landing) if args.landing else None
    start = date.fromisoformat(args.start) if args.start else None
    end = date.fromisoformat(args.end) if args.end else None
    run_pipeline(landing, start, end, full_refresh=getattr(args, "full_refresh", False))
    if not args.quiet:
        print_summary()
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    print_summary()
    return 0


def _cmd_pg_roles(args: argparse.Namespace) -> int:
    from aca_warehouse.postgres_roles import setup_roles
    from aca_warehouse.resources import WarehouseResource

    settings = load_settings()
    warehouse = WarehouseResource(kind="postgres", pg_dsn=settings.pg_dsn)
    passwords = {
        role: os.environ[var]
        for role, var in (("aca_loader", "ACA_LOADER_PASSWORD"), ("aca_analyst", "ACA_ANALYST_PASSWORD"))
        if os.environ.get(var)
    }
    done = setup_roles(warehouse, passwords)
    print(
        f"roles ready on database {done.database}: {done.loader} owns staging/core/marts "
        f"({done.handed_over} existing object(s) handed over), {done.analyst} may read marts only "
        f"({done.statements} statements, idempotent)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aca-warehouse",
        description="ACA insurer warehouse: landing files -> staging -> core star -> marts, through Dagster.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="materialize every asset for every load date in the landing directory")
    run.add_argument("--landing", help="landing root (default: ACA_LANDING_DIR or data/landing)")
    run.add_argument("--from", dest="start", help="first load date (default: the earliest file)")
    run.add_argument("--to", dest="end", help="last load date, inclusive (default: the latest file)")
    run.add_argument("--quiet", action="store_true", help="do not print the table summary")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental dbt models from every staged load (after rotating ACA_MEMBER_KEY_SECRET)",
    )
    run.set_defaults(func=_cmd_run)

    backfill = sub.add_parser(
        "backfill",
        help="load a range of load dates as ONE run through every layer (single-run backfill)",
    )
    backfill.add_argument("--from", dest="start", required=True, help="first load date (YYYY-MM-DD)")
    backfill.add_argument("--to", dest="end", required=True, help="last load date, inclusive")
    backfill.add_argument("--landing", help="landing root (default: ACA_LANDING_DIR or data/landing)")
    backfill.add_argument("--quiet", action="store_true", help="do not print the table summary")
    backfill.set_defaults(func=_cmd_run)

    summary = sub.add_parser("summary", help="print row counts of the warehouse tables")
    summary.set_defaults(func=_cmd_summary)

    ui = sub.add_parser(
        "ui", help="serve the Dagster UI (dagster dev: webserver, daemon); Ctrl-C or SIGTERM stops it"
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    ui.set_defaults(func=_cmd_ui)

    sql = sub.add_parser(
        "sql",
        help="print a query's result from the warehouse (ACA_WAREHOUSE), opened read-only",
        description="Run one SQL query on the configured warehouse, read-only (DuckDB's read-only mode, or "
        "a read-only PostgreSQL transaction), and print the rows. With DuckDB, a run that is writing "
        "holds the file: query between runs.",
    )
    sql.add_argument("query", help='e.g. "select * from marts.plan_month order by month desc limit 5"')
    sql.add_argument("--max-rows", type=int, default=100, help="print at most this many rows (default 100)")
    sql.set_defaults(func=_cmd_sql)

    roles = sub.add_parser(
        "pg-roles",
        help="create/refresh the PostgreSQL loader and analyst roles (passwords from "
        "ACA_LOADER_PASSWORD / ACA_ANALYST_PASSWORD)",
    )
    roles.set_defaults(func=_cmd_pg_roles)

    for module in ("aca_warehouse.generator.cli", "aca_warehouse.reports.cli"):
        try:
            register = __import__(module, fromlist=["register"]).register
        except ImportError:
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AcaWarehouseError as exc:  # messages never show a password or the member-key secret
        print(f"aca-warehouse: error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad dates on the command line
        print(f"aca-warehouse: error: {redact(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "run_pipeline"]
