"""The member-key secret: no default, validated in one place at start-up, never in SQL text or logs, and
passwords masked in every message (issue: security and robustness, item 2 and the DSN masking)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from aca_warehouse.errors import ConfigurationError
from aca_warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

GOOD_SECRET = "an-unguessable-secret-for-tests-only"


@pytest.fixture
def no_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own .env must not fill in a secret these tests remove."""
    import aca_warehouse.settings as settings

    monkeypatch.setattr(settings, "_load_dotenv", lambda: None)


def shipped_secret_values() -> set[str]:
    """Every value this repository gives ACA_MEMBER_KEY_SECRET: .env.example, docker compose, Makefile."""
    values: set[str] = set()
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        if re.match(r"^\s*#?\s*ACA_MEMBER_KEY_SECRET=", line):
            values.add(line.split("=", 1)[1].strip())
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    text = str(compose["x-dagster-env"]["ACA_MEMBER_KEY_SECRET"])
    values.update(re.findall(r"\$\{ACA_MEMBER_KEY_SECRET:-([^}]*)\}", text))
    values.update(
        re.findall(
            r"ACA_MEMBER_KEY_SECRET=\$\$\{ACA_MEMBER_KEY_SECRET:-([^}]*)\}",
            (PROJECT_ROOT / "Makefile").read_text(),
        )
    )
    return values | {"change-me-demo-secret", "change-me"}  # the values the project shipped before


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("change-me", "public default"),
        ("change-me-demo-secret", "public default"),
        ("short-secret", "shorter than 16"),
    ],
)
def test_a_missing_public_or_short_secret_is_a_clear_error(value: str | None, problem: str) -> None:
    from aca_warehouse.settings import member_key_secret

    env = {} if value is None else {"ACA_MEMBER_KEY_SECRET": value}
    with pytest.raises(ConfigurationError) as raised:
        member_key_secret(env)
    message = str(raised.value)
    assert "ACA_MEMBER_KEY_SECRET" in message and problem in message
    assert "secrets.token_urlsafe(32)" in message  # how to make one


def test_no_shipped_value_is_accepted_and_compose_has_no_default_secret() -> None:
    from aca_warehouse.settings import member_key_secret

    for value in shipped_secret_values():
        with pytest.raises(ConfigurationError):
            member_key_secret({"ACA_MEMBER_KEY_SECRET": value})
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text()
    for name in ("ACA_MEMBER_KEY_SECRET", "POSTGRES_PASSWORD", "ACA_LOADER_PASSWORD", "ACA_ANALYST_PASSWORD"):
        assert f"${{{name}:-" not in compose, f"docker-compose.yml gives {name} a default"
        assert f"${{{name}:?" in compose, f"docker-compose.yml should require {name}"
    assert member_key_secret({"ACA_MEMBER_KEY_SECRET": GOOD_SECRET}) == GOOD_SECRET


def test_the_demo_secret_needs_the_explicit_switch_and_is_announced(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aca_warehouse.settings import DEMO_MEMBER_KEY_SECRET, member_key_secret

    monkeypatch.delenv("ACA_DEMO_SECRET_ANNOUNCED", raising=False)
    assert member_key_secret({"ACA_DEMO_SECRET": "1"}) == DEMO_MEMBER_KEY_SECRET
    assert "PUBLIC demo secret" in capsys.readouterr().err
    # an explicit secret wins over the demo switch; a short one is still refused
    assert member_key_secret({"ACA_DEMO_SECRET": "1", "ACA_MEMBER_KEY_SECRET": GOOD_SECRET}) == GOOD_SECRET
    with pytest.raises(ConfigurationError):
        member_key_secret({"ACA_DEMO_SECRET": "1", "ACA_MEMBER_KEY_SECRET": "too-short"})
    with pytest.raises(ConfigurationError):  # without the switch the demo value is one more public secret
        member_key_secret({"ACA_MEMBER_KEY_SECRET": DEMO_MEMBER_KEY_SECRET})
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "DEMO_SECRET := ACA_DEMO_SECRET=1" in makefile
    for target in ("run:", "ui:"):
        recipe = makefile.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        assert "$(DEMO_SECRET)" in recipe, target


def test_without_a_secret_the_code_location_and_the_cli_refuse_to_start(
    monkeypatch: pytest.MonkeyPatch, no_dotenv: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aca_warehouse.cli import main
    from aca_warehouse.definitions import build_definitions

    monkeypatch.delenv("ACA_MEMBER_KEY_SECRET", raising=False)
    monkeypatch.delenv("ACA_DEMO_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="ACA_MEMBER_KEY_SECRET is not set"):
        build_definitions()
    landing = tmp_path / "landing" / "claims_system" / "providers"
    landing.mkdir(parents=True)
    (landing / "providers_2025-03-01.csv").write_text("npi\n")
    assert main(["run", "--landing", str(tmp_path / "landing"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "ACA_MEMBER_KEY_SECRET is not set" in err and "secrets.token_urlsafe(32)" in err


def test_dbt_gets_the_secret_as_a_session_value_never_as_sql_text() -> None:
    from aca_warehouse.resources import WarehouseResource

    env = WarehouseResource(
        kind="postgres",
        pg_dsn="postgresql://u:pw@h:5432/d",
        member_key_secret="with space and \\ backslash 0123456789",
    ).dbt_env()
    assert env["PGOPTIONS"] == "-c aca.member_key_secret=with\\ space\\ and\\ \\\\\\ backslash\\ 0123456789"
    macro = (PROJECT_ROOT / "dbt" / "macros" / "pseudonym.sql").read_text()
    assert "env_var('ACA_MEMBER_KEY_SECRET')" not in macro
    assert "getvariable('aca_member_key_secret')" in macro
    assert "current_setting('aca.member_key_secret')" in macro
    profiles = yaml.safe_load((PROJECT_ROOT / "dbt" / "profiles.yml").read_text())
    plugins = profiles["aca_warehouse"]["outputs"]["duckdb"]["plugins"]
    assert {"module": "aca_warehouse.dbt_session"} in plugins


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://loader:s3cr3t-pw@db:5432/aca",
        "postgres://:s3cr3t-pw@db/aca?sslmode=require",
        "postgresql://loader:s3cr3t@pw@db/aca",  # an unencoded @ in the password
        "host=db user=loader password=s3cr3t-pw dbname=aca",
        "host=db password='s3cr3t pw' dbname=aca",
    ],
)
def test_passwords_are_masked_in_any_text(text: str) -> None:
    from aca_warehouse.errors import mask_passwords

    masked = mask_passwords(f"cannot use {text} today")
    assert "s3cr3t" not in masked and "***" in masked


def test_a_malformed_dsn_error_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_dotenv: None
) -> None:
    from aca_warehouse.cli import main

    monkeypatch.setenv("ACA_MEMBER_KEY_SECRET", GOOD_SECRET)
    monkeypatch.setenv("ACA_WAREHOUSE", "postgres")
    for dsn in ("postgresql://loader:s3cr3t-pw@db:port/aca", "mysql://loader:s3cr3t-pw@db/aca"):
        monkeypatch.setenv("ACA_PG_DSN", dsn)
        assert main(["summary"]) == 1
        err = capsys.readouterr().err
        assert "ACA_PG_DSN" in err and "s3cr3t" not in err and "loader:***@db" in err


def test_kept_dbt_logs_are_private_and_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aca_warehouse.assets.dbt import keep_dbt_log

    monkeypatch.setenv("ACA_MEMBER_KEY_SECRET", GOOD_SECRET)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "dbt.log").write_text(f"connect postgresql://u:pw-123@h/db with {GOOD_SECRET}\n")
    kept = keep_dbt_log(scratch, tmp_path / "logs", "0123456789abcdef")
    assert kept is not None and kept.parent == tmp_path / "logs"
    assert kept.stat().st_mode & 0o077 == 0
    text = kept.read_text()
    assert GOOD_SECRET not in text and "pw-123" not in text and "***" in text


def test_stale_scratch_of_dead_processes_is_removed(tmp_path: Path) -> None:
    import subprocess

    from aca_warehouse.scratch import clean_stale_scratch_dirs

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    for name in (f"aca-dbt-{dead_pid}-x1", f"aca_staging_{dead_pid}-x2", "aca-dbt-1-alive", "other-dir"):
        (tmp_path / name).mkdir()
    live = tmp_path / "aca_staging_1-kept"  # pid 1 is alive
    live.mkdir()
    removed = clean_stale_scratch_dirs(tmp_path)
    assert sorted(p.name for p in removed) == [f"aca-dbt-{dead_pid}-x1", f"aca_staging_{dead_pid}-x2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "aca-dbt-1-alive",
        "aca_staging_1-kept",
        "other-dir",
    ]
