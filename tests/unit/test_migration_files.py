"""Reading migration files: names, order, duplicates, checksums."""

from pathlib import Path

import pytest

from lab.errors import LabError
from lab.migrate import load_migrations, schema_checksum


def write(folder: Path, name: str, text: str = "SELECT 1;") -> None:
    (folder / name).write_text(text)


def test_the_repository_migrations_load_in_order() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and versions[0] == 1


def test_bad_names_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "1_init.sql")
    with pytest.raises(LabError, match="NNNN_lowercase_name.sql"):
        load_migrations(tmp_path)


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql")
    write(tmp_path, "0001_b.sql")
    with pytest.raises(LabError, match="used twice"):
        load_migrations(tmp_path)


def test_schema_checksum_follows_content(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql")
    before = schema_checksum(load_migrations(tmp_path))
    write(tmp_path, "0001_a.sql", "SELECT 2;")
    assert schema_checksum(load_migrations(tmp_path)) != before
