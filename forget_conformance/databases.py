"""The fuzz suites' hypothesis example database, from one spec string.

A spec is a folder (:class:`~hypothesis.database.DirectoryBasedExampleDatabase`: one
machine, any number of processes) or ``redis://HOST:PORT/DB`` (hypothesis' own
:class:`~hypothesis.extra.redis.RedisExampleDatabase`, shared by many machines; needs the
``redis`` package, the ``redis`` extra). Several specs joined by ``|`` are combined with
:class:`~hypothesis.database.MultiplexedDatabase` (saved to all, replayed from all), e.g.
``/cache/examples|redis://ci-redis:6379/0`` keeps a local copy of a shared database.
"""

from __future__ import annotations

from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    MultiplexedDatabase,
)

SCHEMES = ("redis://", "rediss://", "unix://")


class DatabaseError(ValueError):
    """A spec that names no usable database."""


def is_redis(spec: str) -> bool:
    return spec.startswith(SCHEMES)


def open_database(spec: str) -> ExampleDatabase:
    """The database a spec names (see the module docstring)."""
    parts = [p for p in spec.split("|") if p]
    if not parts:
        raise DatabaseError("empty example-database spec")
    found = [_one(p) for p in parts]
    return found[0] if len(found) == 1 else MultiplexedDatabase(*found)


def _one(spec: str) -> ExampleDatabase:
    if not is_redis(spec):
        return DirectoryBasedExampleDatabase(spec)
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise DatabaseError(f"{spec}: a Redis database needs the redis package "
                            "(pip install 'forget-conformance[redis]')") from None
    return RedisExampleDatabase(redis.Redis.from_url(spec), key_prefix=b"forget-conformance:")


def check(spec: str) -> None:
    """Raise :class:`DatabaseError` when ``spec`` cannot be opened or (Redis) reached."""
    for part in [p for p in spec.split("|") if p] or [""]:
        if not part:
            raise DatabaseError("empty example-database spec")
        db = _one(part)
        if is_redis(part):
            try:
                db.redis.ping()  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - any connection failure is the user's
                raise DatabaseError(f"{part}: cannot reach Redis ({exc})") from None
