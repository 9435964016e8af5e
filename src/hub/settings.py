"""Hub settings from ``CLEARLINE_*`` environment variables; default secrets are refused."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.services import siteday

#: Passwords that are never accepted for the bootstrap admin outside dev mode.
KNOWN_WEAK_PASSWORDS = frozenset(
    {"", "admin", "password", "changeme", "change-me", "clearline", "secret", "dev", "demo"}
)
#: Shortest bootstrap admin password accepted outside dev mode, in characters.
MIN_PASSWORD_CHARS = 12
#: The bootstrap admin password used in dev mode when none is set.
DEV_ADMIN_PASSWORD = "clearline-dev-admin"
#: Where the audit key lives in dev mode when ``CLEARLINE_AUDIT_KEY_PATH`` is unset.
DEV_AUDIT_KEY_PATH = "var/audit.key"


class HubSettingsError(ValueError):
    """The hub settings are unusable (for example a default secret outside dev mode)."""


class CommonSettings(BaseSettings):
    """Settings every Clearline process shares; each can be set as ``CLEARLINE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLEARLINE_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///var/clearline.db",
        title="Hub database URL",
        description="SQLAlchemy URL: sqlite:///PATH (default) or postgresql+psycopg://...",
    )
    mqtt_url: str | None = Field(
        default=None,
        title="Broker",
        description="mqtt://HOST:PORT of the site broker; unset, the hub runs without MQTT.",
    )
    rules_path: str | None = Field(
        default=None,
        title="Rules file",
        description="Rules YAML (stored as version 1 when the hub has none); the packaged "
        "default rules when unset.",
    )


class HubSettings(CommonSettings):
    """Settings of the hub service; each can be set as ``CLEARLINE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLEARLINE_", extra="ignore")

    site_id: str = Field(
        default="site1",
        min_length=1,
        max_length=64,
        title="Site id",
        description="Site identifier used in MQTT topics and sync notices.",
    )
    site_timezone: str = Field(
        default=siteday.DEFAULT_SITE_TIMEZONE,
        min_length=1,
        max_length=64,
        title="Site time zone",
        description="IANA zone whose midnight starts the site's day in work lists, "
        "statistics and inspector figures.",
    )

    @field_validator("site_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Refuse a zone name the time zone database does not know."""
        siteday.zone(value)
        return value

    def zone(self) -> ZoneInfo:
        """The site's time zone."""
        return siteday.zone(self.site_timezone)

    token_ttl_s: int = Field(
        default=8 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        title="Token lifetime",
        description="Seconds a bearer token from /api/v1/auth/token stays valid.",
    )
    admin_user: str = Field(
        default="admin",
        min_length=1,
        max_length=64,
        title="Bootstrap admin name",
        description="User created with the admin role when the user table is empty.",
    )
    admin_password: SecretStr = Field(
        default=SecretStr(""),
        title="Bootstrap admin password",
        description="Required outside dev mode: at least 12 characters, not a known default.",
    )
    dev: bool = Field(
        default=False,
        title="Dev / demo mode",
        description="Allows the built-in dev admin password; never use on a real site.",
    )
    max_upload_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        title="Largest upload",
        description="Largest declaration file accepted by the upload endpoint, in bytes.",
    )
    signing_key_path: str = Field(
        default="var/hub-signing.key",
        title="Hub signing key",
        description="Ed25519 key that signs verdicts (PEM, mode 0600); made on first use.",
    )
    verdict_ttl_s: int = Field(
        default=300,
        ge=10,
        le=24 * 3600,
        title="Verdict lifetime",
        description="Seconds a signed verdict stays valid after the hub signs it.",
    )
    require_enrolled_edges: bool | None = Field(
        default=None,
        title="Only enrolled edges",
        description="Refuse events of edges not enrolled; unset means on outside dev mode. "
        "An enrolled edge's events must always carry its signature.",
    )

    def edges_must_enrol(self) -> bool:
        """Whether events of edges that are not enrolled are refused."""
        if self.require_enrolled_edges is None:
            return not self.dev
        return self.require_enrolled_edges

    migrate_on_start: bool = Field(
        default=True,
        title="Migrate on start",
        description="Run the database migrations when the app is created.",
    )

    data_dir: str = Field(
        default="var",
        title="Hub data directory",
        description="Where the hub keeps its files: the event spool of each site, X-ray images.",
    )
    audit_key_path: str | None = Field(
        default=None,
        title="Audit key file",
        description="File holding the audit log's HMAC key, outside the database (0600; "
        "made on first use). Required outside dev mode.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        title="Login failures allowed",
        description="Failed logins per account, and per address, within the window before "
        "further attempts get 429.",
    )
    login_window_s: int = Field(
        default=300,
        ge=1,
        le=24 * 3600,
        title="Login failure window",
        description="Seconds over which failed logins are counted.",
    )
    public_origin: str = Field(
        default="",
        max_length=200,
        title="Public origin",
        description="scheme://host[:port] browsers reach the hub at (behind a proxy); empty: "
        "the request's own. Cookie-authenticated writes from any other origin get 403.",
    )
    protect_metrics: bool = Field(
        default=False,
        title="Metrics behind auth",
        description="/metrics needs a supervisor's credentials (or an API key).",
    )
    protect_docs: bool = Field(
        default=False,
        title="API docs behind auth",
        description="/docs, /redoc and /openapi.json need any valid credentials.",
    )
    event_spool_path: str = Field(
        default="",
        title="Event spool",
        description="SQLite file holding received events until they are in the database; "
        "unset, DATA_DIR/spool/SITE_ID/event-spool.db (one per site, never shared).",
    )

    mqtt_share_group: str = Field(
        default="",
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]*$",
        title="Shared ingest group",
        description="Subscribe to edge events as $share/GROUP/... so each event reaches one of "
        "the hub processes in the group (Mosquitto 2); empty (default, and for the embedded "
        "broker): a plain subscription. Each process then takes its own spool slot under "
        "DATA_DIR/spool/SITE_ID/.",
    )

    review_deadline_every_s: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        title="Review deadline job",
        description="Seconds between runs of the job that records each X-ray image whose "
        "review deadline passed with no verdict (once, in one hub process); 0 turns it off. "
        "It runs in every hub that takes events from a broker (CLEARLINE_MQTT_URL).",
    )

    sync_snapshot_check_s: float = Field(
        default=60.0,
        ge=0,
        le=86400,
        title="Kept sync snapshot: check interval",
        description="Seconds between looks at the snapshot file an edge's first sync is served "
        "from (hub.services.snapshot_keep; PostgreSQL only); 0 serves every snapshot live.",
    )
    sync_snapshot_rebuild_changes: int = Field(
        default=50_000,
        ge=1,
        title="Kept sync snapshot: changes before a rebuild",
        description="Rebuild the kept snapshot once this many declarations changed since it "
        "was read (the delta sync carries the rest to an edge).",
    )
    sync_snapshot_max_age_s: float = Field(
        default=3600.0,
        ge=1,
        title="Kept sync snapshot: oldest age",
        description="Rebuild the kept snapshot when anything changed and it is this old.",
    )
    sync_snapshot_min_declarations: int = Field(
        default=10_000,
        ge=0,
        title="Kept sync snapshot: smallest site",
        description="Keep no file below this many declarations (a live snapshot is quick).",
    )

    def snapshot_dir(self) -> Path:
        """Return where the site's kept sync snapshot lives, under the data dir."""
        return Path(self.data_dir) / "snapshots" / self.site_id

    def spool_path(self) -> Path:
        """Return the event spool file: the one set, else the site's own under the data dir."""
        if self.event_spool_path:
            return Path(self.event_spool_path)
        return Path(self.data_dir) / "spool" / self.site_id / "event-spool.db"

    def checked(self) -> HubSettings:
        """Return these settings if they are safe to serve with; raise otherwise."""
        password = self.admin_password.get_secret_value()
        if self.dev:
            return self
        if password.strip().lower() in KNOWN_WEAK_PASSWORDS:
            raise HubSettingsError(
                "CLEARLINE_ADMIN_PASSWORD is empty or a well-known default; set a real "
                "password (or run with --dev for a throw-away demo)"
            )
        if len(password) < MIN_PASSWORD_CHARS:
            raise HubSettingsError(
                f"CLEARLINE_ADMIN_PASSWORD must be at least {MIN_PASSWORD_CHARS} characters"
            )
        if not self.audit_key_path:
            raise HubSettingsError(
                "CLEARLINE_AUDIT_KEY_PATH is required outside dev mode: a file outside the "
                "database for the audit log's key (made with mode 0600 on first start); keep "
                "a copy of it away from the hub"
            )
        return self

    def audit_key_file(self) -> str:
        """Return the audit key's path (the dev default in dev mode when unset)."""
        return self.audit_key_path or DEV_AUDIT_KEY_PATH

    def bootstrap_password(self) -> str:
        """Return the bootstrap admin password (the dev default in dev mode when unset)."""
        password = self.admin_password.get_secret_value()
        if not password and self.dev:
            return DEV_ADMIN_PASSWORD
        return password
