"""The configuration the lab writes for its embedded server."""

from lab.pg.embedded import render_conf, server_settings

GIB = 1024**3


def test_room_for_the_1000_connection_experiment() -> None:
    assert int(server_settings(55432, 24 * GIB)["max_connections"]) >= 1100


def test_durability_stays_on() -> None:
    conf = server_settings(55432, 24 * GIB)
    assert (conf["fsync"], conf["synchronous_commit"], conf["full_page_writes"]) == ("on",) * 3


def test_statistics_are_collected() -> None:
    assert "pg_stat_statements" in server_settings(55432, 24 * GIB)["shared_preload_libraries"]


def test_memory_is_sized_from_the_machine() -> None:
    small, big = server_settings(1, 2 * GIB), server_settings(1, 64 * GIB)
    assert small["shared_buffers"] == "512MB"
    assert big["shared_buffers"] == "8192MB"  # capped: the OS cache does the rest


def test_loopback_only() -> None:
    conf = render_conf(server_settings(55499, 8 * GIB))
    assert "listen_addresses = '127.0.0.1'" in conf and "port = 55499" in conf
