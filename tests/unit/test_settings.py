"""Settings: the seed's unprefixed variables, the DUALWRITE_ prefix, and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from infrastructure.settings import DualWriteMode, OrmBackend, PrimaryStore, Settings

ALIASED = {
    "ORM": ("orm", "dual", OrmBackend.DUAL),
    "DATABASE_URL": ("database_url", "postgresql://u@h/db", "postgresql://u@h/db"),
    "MONGO_URL": ("mongo_url", "mongodb://h:1/", "mongodb://h:1/"),
    "MONGO_DB": ("mongo_db", "otra", "otra"),
    "BROKER_URL": ("broker_url", "redis://h:2/0", "redis://h:2/0"),
}


@pytest.mark.parametrize("variable", sorted(ALIASED))
def test_seed_variables_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    field, raw, expected = ALIASED[variable]
    monkeypatch.setenv(variable, raw)
    assert getattr(Settings(), field) == expected


@pytest.mark.parametrize("variable", sorted(ALIASED))
def test_seed_variables_are_read_with_prefix(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    field, raw, expected = ALIASED[variable]
    monkeypatch.setenv(f"DUALWRITE_{variable}", raw)
    assert getattr(Settings(), field) == expected


def test_unprefixed_orm_wins_over_the_prefixed_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORM", "mongo")
    monkeypatch.setenv("DUALWRITE_ORM", "dual")
    assert Settings().orm is OrmBackend.MONGO


def test_other_settings_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALWRITE_DUAL_WRITE_MODE", "threadpool")
    monkeypatch.setenv("DUALWRITE_DUAL_PRIMARY", "mongo")
    monkeypatch.setenv("DUALWRITE_DUAL_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("DUAL_WRITE_MODE", "queued")  # unprefixed: ignored
    settings = Settings()
    assert settings.dual_write_mode is DualWriteMode.THREADPOOL
    assert settings.dual_primary is PrimaryStore.MONGO
    assert settings.dual_timeout_seconds == 0.5


def test_field_names_work_as_constructor_arguments() -> None:
    settings = Settings(orm="mongo", mongo_url="mongodb://x/", dual_write_mode="threadpool")
    assert settings.orm is OrmBackend.MONGO
    assert settings.mongo_url == "mongodb://x/"
    assert settings.dual_write_mode is DualWriteMode.THREADPOOL


def test_defaults_need_no_services(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUALWRITE_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.orm is OrmBackend.SQLALCHEMY
    assert settings.dual_write_mode is DualWriteMode.QUEUED
    assert settings.dual_primary is PrimaryStore.SQL
    assert settings.resolved_database_url() == f"sqlite:///{(tmp_path / 'd' / 'dualwrite.db').resolve()}"
    assert settings.resolved_broker_url() == "filesystem://"
    assert settings.broker_folder() == (tmp_path / "d" / "broker").resolve()
    assert settings.mongo_data_dir() == (tmp_path / "d" / "mongo").resolve()


def test_explicit_urls_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("BROKER_URL", "redis://h/0")
    settings = Settings()
    assert settings.resolved_database_url() == "postgresql://u@h/db"
    assert settings.resolved_broker_url() == "redis://h/0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORM", "oracle"),
        ("DUALWRITE_DUAL_WRITE_MODE", "sometimes"),
        ("DUALWRITE_DUAL_MAX_WORKERS", "0"),
        ("DUALWRITE_DUAL_TIMEOUT_SECONDS", "0"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()
