"""Settings of the lab, read from `LAB_*` environment variables.

One settings object for every command, so that the CLI, the tests and later
the API and load runner agree on where the database and local state live.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every database the lab creates starts with this prefix; the lab never
# creates, drops or writes any database whose name does not.
DATABASE_PREFIX = "timeline_lab"


class Settings(BaseSettings):
    """Configuration of the lab; every field maps to `LAB_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LAB_", extra="ignore")

    state_dir: Path = Field(Path(".lab"), description="Local state: pgdata, logs.")
    pgdata: Path | None = Field(
        None, description="Embedded data folder (default STATE_DIR/pgdata).")
    pg_port: int = Field(55432, description="TCP port of the embedded server on 127.0.0.1.")
    database_url: str | None = Field(
        None, description="Use this server instead of the embedded one (any database on it)."
    )
    db: str | None = Field(
        None, description="Where PostgreSQL comes from: embedded, url or testcontainers."
    )
    db_name: str = Field(DATABASE_PREFIX, description="The working database the lab serves.")
    container_image: str = Field("postgres:18", description="Image for --db testcontainers.")

    @property
    def embedded_pgdata(self) -> Path:
        """Return the absolute embedded data folder."""
        return (self.pgdata or self.state_dir / "pgdata").resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once from the environment)."""
    return Settings()
