"""All configuration, read from the environment in one place."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrmBackend(enum.StrEnum):
    """The seed's ``ORM`` values."""

    SQLALCHEMY = "sqlalchemy"
    MONGO = "mongo"
    DUAL = "dual"


class DualWriteMode(enum.StrEnum):
    """How the dual repository writes the secondary store."""

    QUEUED = "queued"  # SQL + outbox in one transaction, Mongo through Celery
    THREADPOOL = "threadpool"  # the seed's in-process parallel write


class PublishVia(enum.StrEnum):
    """Who hands a queued write's event to the broker."""

    # The API, right after the commit (or from a background batcher when
    # ``publish_linger_ms`` > 0): lowest lag, a broker call per request.
    REQUEST = "request"
    # The relay process, woken by the database (PostgreSQL LISTEN/NOTIFY, else polling
    # every ``relay_interval_seconds``): a request costs only its outbox row.
    RELAY = "relay"


class PrimaryStore(enum.StrEnum):
    """Which store the dual repository reads first."""

    SQL = "sql"
    MONGO = "mongo"


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"DUALWRITE_{name}")


class Settings(BaseSettings):
    """Every setting of the service. Environment variables use the ``DUALWRITE_`` prefix,
    except the seed's ``ORM`` and the usual ``DATABASE_URL``, ``MONGO_URL`` and
    ``BROKER_URL``, which are read as they are (the prefixed form works too)."""

    model_config = SettingsConfigDict(env_prefix="DUALWRITE_", extra="ignore", populate_by_name=True)

    orm: OrmBackend = Field(OrmBackend.SQLALCHEMY, validation_alias=_alias("ORM"))
    data_dir: Path = Path(".dualwrite")
    database_url: str | None = Field(None, validation_alias=_alias("DATABASE_URL"))
    mongo_url: str | None = Field(None, validation_alias=_alias("MONGO_URL"))
    mongo_db: str = Field("dualwrite", validation_alias=_alias("MONGO_DB"))
    mongo_timeout_ms: int = 3000
    broker_url: str | None = Field(None, validation_alias=_alias("BROKER_URL"))

    dual_write_mode: DualWriteMode = DualWriteMode.QUEUED
    dual_primary: PrimaryStore = PrimaryStore.SQL
    dual_max_workers: int = Field(2, ge=1)
    dual_timeout_seconds: float = Field(10.0, gt=0)

    publish_via: PublishVia = PublishVia.REQUEST
    publish_timeout_seconds: float = Field(1.0, gt=0)
    # > 0: events that arrive within this many milliseconds leave as one task. With
    # publish_via=request the API publishes from a background thread (see
    # BatchingEventPublisher); with relay, the woken relay waits this long first.
    publish_linger_ms: float = Field(0.0, ge=0)
    replication_queue: str = "dualwrite.replication"
    retry_max: int = Field(8, ge=0)
    retry_backoff_seconds: int = Field(2, ge=1)
    retry_backoff_max_seconds: int = Field(60, ge=1)
    relay_interval_seconds: float = Field(1.0, gt=0)
    relay_batch_size: int = Field(500, ge=1)
    relay_redispatch_after_seconds: float = Field(120.0, gt=0)
    outbox_retention_seconds: float = Field(86400.0, ge=0)

    admin_token: SecretStr | None = None
    # Operator tooling: worker ping bound, reconcile and backfill sizes, /metrics.
    worker_ping_timeout_seconds: float = Field(1.0, gt=0, le=10)
    reconcile_chunk_size: int = Field(1000, ge=1, le=100_000)
    reconcile_interval_seconds: float = Field(0.0, ge=0)  # > 0 schedules dualwrite.reconcile in beat
    reconcile_repair: bool = False  # whether the scheduled reconcile also queues repairs
    backfill_batch_size: int = Field(1000, ge=1, le=10_000)
    metrics_enabled: bool = True
    # Migration stages: how soon every process sees a stage change, shadow reads.
    stage_cache_seconds: float = Field(1.0, gt=0, le=60)
    shadow_sample_rate: float = Field(0.1, ge=0, le=1)
    shadow_max_workers: int = Field(2, ge=1, le=16)
    shadow_keep_mismatches: int = Field(200, ge=1, le=100_000)
    log_level: str = "INFO"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dualwrite.db').resolve()}"

    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    def broker_folder(self) -> Path:
        return (self.data_dir / "broker").resolve()

    def mongo_data_dir(self) -> Path:
        return (self.data_dir / "mongo").resolve()
