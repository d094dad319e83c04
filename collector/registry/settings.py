"""The registry's settings: the ``registry:`` key of the collector's configuration file.

``registry`` is a path (the SQLite file, as always), a ``postgresql://`` URL, or a mapping whose
``url`` is either, with the PostgreSQL login beside it::

    registry: /var/lib/retrofit-collector/registry.sqlite        # SQLite, one host

    registry:                                          # PostgreSQL, several hosts
      url: postgresql://collector@db.example.org:5432/registry
      password_file: /etc/retrofit/registry-password   # or password: ${RV_REGISTRY_PASSWORD}
      pool_size: 4
      quarantine_retention_days: 365    # either backend; none: kept for ever

The password is never written in the URL of a configuration file that is checked in: it comes
from the environment (``${VAR}``) or from a file readable only by the collector's account.
Neither is ever logged; messages name the URL without it. Every key is in docs/collector.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from collector.errors import RegistryUnavailable

__all__ = [
    "POSTGRES_SCHEMES",
    "RegistryLocation",
    "RegistrySettings",
    "is_postgres_url",
    "sqlite_path",
]

#: URL schemes that select the PostgreSQL backend (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


class RegistrySettings(BaseModel):
    """Where the registry is: a SQLite file or a PostgreSQL database, and how to log in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A SQLite file (relative: from the configuration file's folder) or a postgresql:// URL.
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    #: The PostgreSQL password, when the URL has none (``${VAR}`` from the environment).
    password: SecretStr | None = None
    #: A file holding the PostgreSQL password (its first line), when the URL has none.
    password_file: Path | None = None
    #: PostgreSQL connections one process keeps open at most.
    pool_size: Annotated[int, Field(ge=1, le=100)] = 4
    #: Quarantined messages older than this many days are deleted by ``registry
    #: prune-quarantine`` (their counts stay); None keeps them for ever.
    quarantine_retention_days: Annotated[int, Field(ge=1, le=36500)] | None = None

    @model_validator(mode="after")
    def _login_fits_backend(self) -> RegistrySettings:
        # Checked here, not on ``url``, so an error never echoes a URL that holds a password.
        if "://" in self.url and not is_postgres_url(self.url):
            raise ValueError(
                f"url: got a {self.url.split('://', 1)[0][:20]}:// URL, expected a SQLite file "
                "path or a postgresql:// URL"
            )
        if not is_postgres_url(self.url):
            given = [k for k in ("password", "password_file") if getattr(self, k) is not None]
            given += ["pool_size"] if "pool_size" in self.model_fields_set else []
            if given:
                raise ValueError(
                    f"{', '.join(given)}: only for a postgresql:// url (this url is a SQLite file)"
                )
            return self
        if self.password is not None and self.password_file is not None:
            raise ValueError("give either password or password_file, not both")
        has_password = urlsplit(self.url).password is not None
        if has_password and (self.password is not None or self.password_file is not None):
            raise ValueError("the url has a password already: drop it there or drop this one")
        return self

    @property
    def is_postgres(self) -> bool:
        """Whether the registry is a PostgreSQL database."""
        return is_postgres_url(self.url)

    def with_base(self, base: Path) -> RegistrySettings:
        """These settings with a relative SQLite path or password file taken from ``base``."""
        update: dict[str, object] = {}
        if not self.is_postgres and not Path(self.url).is_absolute():
            update["url"] = str(base / self.url)
        if self.password_file is not None and not self.password_file.is_absolute():
            update["password_file"] = base / self.password_file
        return self.model_copy(update=update) if update else self

    def secret(self) -> str | None:
        """The password to log in with (None: the URL's, or none).

        Raises RegistryUnavailable naming the password file if it cannot be read.
        """
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is None:
            return None
        try:
            text = self.password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise RegistryUnavailable(
                f"registry password_file {self.password_file}: {reason}; check the file",
                retryable=False,
            ) from None
        first = text.splitlines()[0] if text else ""
        if not first:
            raise RegistryUnavailable(
                f"registry password_file {self.password_file}: the first line is empty; "
                "write the password there",
                retryable=False,
            )
        return first


#: What a Registry opens: a SQLite file, a postgresql:// URL, or the configuration's settings.
RegistryLocation = Path | str | RegistrySettings


def sqlite_path(location: RegistryLocation) -> Path | None:
    """The SQLite file ``location`` names, or None for a PostgreSQL database."""
    url = location.url if isinstance(location, RegistrySettings) else location
    return None if is_postgres_url(url) else Path(url)
