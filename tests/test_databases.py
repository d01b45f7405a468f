"""Example databases from a spec: a folder, Redis (for many machines), or both multiplexed.

The Redis tests run against a real ``redis-server`` started here (127.0.0.1, a free port,
no persistence, stopped by the fixture); without one, or without the ``redis`` package,
they skip with the reason: the default CI run needs neither.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase, MultiplexedDatabase

from forget_conformance import databases, outputs
from tests.helpers import run_cli


def test_a_folder_and_a_multiplexed_pair(tmp_path):
    assert isinstance(databases.open_database(str(tmp_path / "a")), DirectoryBasedExampleDatabase)
    both = databases.open_database(f"{tmp_path / 'a'}|{tmp_path / 'b'}")
    assert isinstance(both, MultiplexedDatabase)
    both.save(b"k", b"v")
    assert list(databases.open_database(str(tmp_path / "b")).fetch(b"k")) == [b"v"]
    with pytest.raises(databases.DatabaseError):
        databases.open_database("|")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url():
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server here (apt-get install redis-server) for the Redis tests")
    redis = pytest.importorskip("redis", reason="the redis package (extra 'redis') is absent")
    port = _free_port()
    proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):  # at most ~10 s for the server to listen
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.skip("redis-server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_database_is_shared_between_clients(redis_url, tmp_path):
    first, second = databases.open_database(redis_url), databases.open_database(redis_url)
    first.save(b"key", b"failure")
    assert list(second.fetch(b"key")) == [b"failure"]
    local = tmp_path / "local"
    mirrored = databases.open_database(f"{local}|{redis_url}")  # a local copy of the shared one
    mirrored.save(b"key", b"another")
    assert sorted(second.fetch(b"key")) == [b"another", b"failure"]
    assert list(DirectoryBasedExampleDatabase(str(local)).fetch(b"key")) == [b"another"]
    databases.check(redis_url)


def test_shards_on_two_machines_replay_through_redis(redis_url, monkeypatch, tmp_path):
    from tests import test_campaign

    monkeypatch.setenv(outputs.ENV_DATABASE, redis_url)
    monkeypatch.setenv(outputs.ENV_FAILURES, str(tmp_path / "failures"))
    monkeypatch.setattr(test_campaign.corpus, "SHIPPED", tmp_path / "none")
    seen = test_campaign._draws(monkeypatch, "loss_scale")
    test_campaign._run_shard(1, test_campaign.property_runner.FuzzLog())
    found = seen[-1]
    seen.clear()
    log = test_campaign.property_runner.FuzzLog()
    test_campaign._run_shard(2, log)
    assert seen[0] == found and log.progress.first_failure == 1


def test_unreachable_redis_is_a_usage_error():
    pytest.importorskip("redis", reason="the redis package (extra 'redis') is absent")
    port = _free_port()  # nothing listens there
    proc = run_cli("--impl", "reference", "--suite", "fuzz", "--database",
                   f"redis://127.0.0.1:{port}/0", timeout=120)
    assert proc.returncode == 2 and "cannot reach Redis" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
