"""The collector's configuration file (YAML, ``${VAR}`` from the environment for secrets).

One file for every central command (``ingest``, ``serve``)::

    registry: /var/lib/retrofit-collector/registry.sqlite   # or {url: postgresql://..., ...}
    broker:   {host: mqtt.example.org, port: 8883, username: collector,
               password: ${RV_MQTT_PASSWORD}, tls: {ca_path: /etc/rv/ca.pem},
               client_id: collector-1, group: collectors}
    influx:   {url: http://127.0.0.1:8086, database: rv, username: rv,
               password: ${RV_INFLUX_PASSWORD}}          # or token: ${RV_INFLUX_TOKEN}
    ingest:   {inflight: 64, flush_after_s: 0.2, metrics_port: 9102,
               confirmation_key_path: /run/secrets/confirmation-key}  # optional (#19)
    web:      {host: 127.0.0.1, port: 8080, evidence_dir: /var/lib/retrofit-collector/evidence}
    bundle:   {signing_key_path: /run/secrets/bundle-signing-key}   # optional: signs bundles
    attachments: {max_bytes: 20971520}    # optional: largest enterprise document (20 MiB)

Every key is in ``docs/collector.md``. Errors name file, line and key path, all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from collector.attachments.settings import AttachmentSettings
from collector.ingest.settings import IngestSettings
from collector.registry.settings import RegistrySettings
from collector.store import InfluxStore, Token, UserPassword
from collector.web.settings import WebSettings
from contract.configfile.document import parse_document
from contract.configfile.yamlload import read_config_text
from contract.wire import IDENTIFIER_PATTERN

__all__ = ["CollectorConfig", "load_collector_config"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Model):
    """TLS to the broker: the CA to trust and an optional client certificate and key."""

    ca_path: Path
    cert_path: Path | None = None
    key_path: Path | None = None


class BrokerSettings(_Model):
    """The MQTT broker the agents publish to."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    #: This replica's MQTT client id: its persistent session is keyed by it.
    client_id: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)] = "collector-1"
    #: The shared-subscription group every replica joins.
    group: Annotated[str, Field(pattern=IDENTIFIER_PATTERN)] = "collectors"
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    session_expiry_s: Annotated[int, Field(ge=60, le=2**32 - 1)] = 7 * 86_400


class InfluxSettings(_Model):
    """InfluxDB through its v1 HTTP API (1.x natively; 2.x and 3.x by compatibility)."""

    url: Annotated[str, Field(pattern=r"^https?://")]
    database: Annotated[str, Field(min_length=1, max_length=64)] = "rv"
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    raw_retention_days: Annotated[int, Field(ge=1)] | None = 1830
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    #: Create the database and retention policies when a command starts (1.x; an admin user).
    #: False: an administrator made them once (``retrofit-collector store init``) and the
    #: collector's user holds only read and write on the database; also for 2.x / 3.x.
    manage_schema: bool = True

    @model_validator(mode="after")
    def _one_login(self) -> InfluxSettings:
        if self.token is not None and (self.username or self.password):
            raise ValueError("give either token (2.x/3.x) or username and password (1.x)")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class IngestTuning(_Model):
    """How much ingest holds at once, and where it reports."""

    inflight: Annotated[int, Field(ge=1, le=65535)] = 64
    flush_after_s: Annotated[float, Field(gt=0, le=10)] = 0.2
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    #: Seconds between fleet snapshots for the dashboards (collector/dashboards/feed.py); 0: off.
    fleet_snapshot_s: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    #: Quarantined messages with a log line each, per reason and interval; the rest summed.
    quarantine_log_burst: Annotated[int, Field(ge=0, le=100_000)] = 10
    quarantine_log_every_s: Annotated[float, Field(ge=1, le=86_400)] = 60.0
    #: paho's network loop in its own thread, as before #20 (for A/B measurements only).
    mqtt_thread: bool = False
    #: The collector confirmation key (Ed25519, PKCS#8 PEM, mode 0600; ``retrofit-collector
    #: confirmation-key generate``): each agent is told, signed, which of its seqs are stored
    #: (#19, docs/wire-contract.md). Not the bundle key. None: no confirmations are sent.
    confirmation_key_path: Path | None = None
    #: At most one confirmation per agent this often, in seconds.
    confirm_every_s: Annotated[float, Field(gt=0, le=60)] = 1.0


class BundleSettings(_Model):
    """Evidence bundles: the key that signs them (docs/evidence-bundle.md, "The signature")."""

    #: The collector's Ed25519 private key (PKCS#8 PEM, mode 0600), written by
    #: ``retrofit-collector bundle-key generate``; None: bundles are written unsigned.
    signing_key_path: Path | None = None


class CollectorConfig(_Model):
    """The collector's configuration file."""

    #: The SQLite file (a path, as always), a ``postgresql://`` URL, or a mapping with ``url``
    #: (either) and the PostgreSQL login (collector/registry/settings.py).
    registry: RegistrySettings
    broker: BrokerSettings
    influx: InfluxSettings
    ingest: IngestTuning = IngestTuning()
    #: ``retrofit-collector serve``: the web app (docs/web.md, "Configuration").
    web: WebSettings = WebSettings()
    #: ``evidence``, ``rollup``, ``serve``: how bundles are signed.
    bundle: BundleSettings = BundleSettings()
    #: Enterprise files (一企一档): the web app's uploads and ``attachments add``.
    attachments: AttachmentSettings = AttachmentSettings()

    @field_validator("registry", mode="before")
    @classmethod
    def _url_alone(cls, value: object) -> object:
        # ``registry: PATH`` and ``registry: postgresql://...`` are ``registry: {url: ...}``.
        return {"url": value} if isinstance(value, str) else value

    def ingest_settings(
        self, client_id: str | None = None, *, retire: bool = False
    ) -> IngestSettings:
        """Settings for one ingest replica (``client_id`` overrides the file's)."""
        b, tls = self.broker, self.broker.tls
        return IngestSettings(
            host=b.host,
            port=b.port,
            client_id=client_id or b.client_id,
            group=b.group,
            username=b.username,
            password=b.password.get_secret_value() if b.password else None,
            tls_ca=str(tls.ca_path) if tls else None,
            tls_cert=str(tls.cert_path) if tls and tls.cert_path else None,
            tls_key=str(tls.key_path) if tls and tls.key_path else None,
            keepalive_s=b.keepalive_s,
            session_expiry_s=b.session_expiry_s,
            inflight=self.ingest.inflight,
            flush_after_s=self.ingest.flush_after_s,
            mqtt_thread=self.ingest.mqtt_thread,
            quarantine_log_burst=self.ingest.quarantine_log_burst,
            quarantine_log_every_s=self.ingest.quarantine_log_every_s,
            confirmation_key_path=(
                None
                if self.ingest.confirmation_key_path is None
                else str(self.ingest.confirmation_key_path)
            ),
            confirm_every_s=self.ingest.confirm_every_s,
            retire=retire,
        )

    def store(self) -> InfluxStore:
        """An InfluxDB client for these settings (close it with ``aclose``)."""
        i = self.influx
        auth: UserPassword | Token | None = None
        if i.token is not None:
            auth = Token(i.token.get_secret_value())
        elif i.username is not None and i.password is not None:
            auth = UserPassword(i.username, i.password.get_secret_value())
        return InfluxStore(
            i.url,
            i.database,
            auth=auth,
            raw_retention_days=i.raw_retention_days,
            timeout_s=i.timeout_s,
            manage_schema=i.manage_schema,
        )


def load_collector_config(path: Path, env: Mapping[str, str] | None = None) -> CollectorConfig:
    """Read and validate the collector's configuration; relative paths (the registry, the
    evidence folder, the bundle and confirmation keys) are from its folder.

    Raises ConfigFileError (unreadable) or ConfigInvalidError (every problem, with lines).
    """
    text = read_config_text(path)
    config, _ = parse_document(
        text,
        str(path),
        CollectorConfig,
        env=env,
        expected="a mapping with the keys registry, broker and influx",
    )
    base = path.parent.absolute()
    config = config.model_copy(update={"registry": config.registry.with_base(base)})
    if not config.web.evidence_dir.is_absolute():
        web = config.web.model_copy(update={"evidence_dir": base / config.web.evidence_dir})
        config = config.model_copy(update={"web": web})
    key_path = config.bundle.signing_key_path
    if key_path is not None and not key_path.is_absolute():
        bundle = config.bundle.model_copy(update={"signing_key_path": base / key_path})
        config = config.model_copy(update={"bundle": bundle})
    confirm_path = config.ingest.confirmation_key_path
    if confirm_path is not None and not confirm_path.is_absolute():
        ingest = config.ingest.model_copy(update={"confirmation_key_path": base / confirm_path})
        config = config.model_copy(update={"ingest": ingest})
    return config
