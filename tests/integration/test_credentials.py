"""Tokens for seeded users, as Locust receives them."""

from __future__ import annotations

import stat
from pathlib import Path

from lab.load.credentials import issue_credentials, read_credentials, write_credentials
from lab.pg.server import PgServer
from lab.security import token_hash


def test_each_persona_gets_working_tokens_of_the_right_accounts(
        pg_server: PgServer, seeded_copy: str, tmp_path: Path) -> None:
    with pg_server.connect(seeded_copy) as conn:
        issued = issue_credentials(conn, ordinary_users=100)
        readers = issued["power_readers"]
        assert readers and all(r["following"] >= 1000 for r in readers)
        assert len(issued["users"]) == 100
        assert all(u["following"] < 1000 for u in issued["users"])
        owner = issued["protected_owners"][0]["id"]
        protected, pending = conn.execute(
            "SELECT is_protected, (SELECT count(*) FROM follow_requests WHERE followee_id = %s) "
            "FROM users WHERE id = %s", (owner, owner)).fetchone()
        assert protected and pending > 0
        author_protected = conn.execute(
            "SELECT u.is_protected FROM tweets t JOIN users u ON u.id = t.user_id "
            "WHERE t.id = %s", (issued["viral_tweet_id"],)).fetchone()
        assert author_protected == (False,)
        for account in (readers[0], issued["users"][-1]):
            row = conn.execute("SELECT user_id FROM api_tokens WHERE token_hash = %s",
                               (token_hash(account["token"]),)).fetchone()
            assert row == (account["id"],)
    path = tmp_path / "credentials.json"
    write_credentials(path, issued)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials(path) == issued
