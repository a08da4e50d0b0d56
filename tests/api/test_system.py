"""Health, stats and the OpenAPI schema."""

from __future__ import annotations

import gc

from lab.api.models import Stats
from lab.pg.server import PgServer
from tests.api.conftest import Api, running_api


def test_health_and_stats(api: Api) -> None:
    assert api.anonymous.get("/health").json() == {"status": "ok"}
    stats = Stats.model_validate_json(api.anonymous.get("/stats").content)
    assert stats.strategy == "pull" and stats.pool["pool_max"] == 4
    assert "requests_num" in stats.pool


def test_openapi_documents_the_raw_json_routes(api: Api) -> None:
    schema = api.anonymous.get("/openapi.json").json()
    expected = {
        ("/users", "post", "201"): "RegisterOut",
        ("/timeline/home", "get", "200"): "TweetPage",
        ("/users/{user_id}/tweets", "get", "200"): "TweetPage",
        ("/tweets", "post", "201"): "PostOut",
        ("/users/{user_id}", "get", "200"): "UserOut",
        ("/users/{user_id}/follow", "put", "200"): "FollowOut",
    }
    for (path, method, status), model in expected.items():
        content = schema["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"]["$ref"].endswith(f"/{model}"), path
    home = schema["paths"]["/timeline/home"]["get"]
    assert home["security"] == [{"HTTPBearer": []}]


def test_a_worker_freezes_what_start_up_built_and_thaws_it_at_shutdown(
        pg_server: PgServer, api_db: str) -> None:
    # The server runs in this process's thread, so the collector is this process's.
    before = gc.get_freeze_count()
    with running_api(pg_server.url(api_db)) as second:
        assert second.anonymous.get("/health").status_code == 200
        assert gc.get_freeze_count() > max(before, 10_000)
    assert gc.get_freeze_count() == 0
