"""Schemathesis checks of our own, loaded by `cargo xtask chaos` through
SCHEMATHESIS_HOOKS:
- every refusal answers the service's JSON error shape;
- a refused request stores nothing: the service's SQLite file (named by
  OPTIN_CHAOS_DATABASE) reads the same before and after it."""

import hashlib
import os
import sqlite3
import time

import schemathesis

DATABASE = os.environ.get("OPTIN_CHAOS_DATABASE")

# Bookkeeping that any authenticated request may touch, refused or not, and
# that is not the request's data: the migrations table and SQLite's own.
IGNORED_TABLES = {"_sqlx_migrations", "sqlite_sequence"}

# After a request that changed something, background work follows it: the
# outbox picks up a job within a second, and the sandbox answers a send with
# status webhooks 150 ms apart. The next request waits until the store has
# been still this long (at most SETTLE_LIMIT_SECONDS).
QUIET_SECONDS = 1.5
SETTLE_LIMIT_SECONDS = 10.0

def _connect():
    connection = sqlite3.connect(f"file:{DATABASE}?mode=ro", uri=True, timeout=10)
    connection.isolation_level = None
    return connection


def fingerprint():
    """A digest per table of every row, read in one snapshot."""
    connection = _connect()
    try:
        connection.execute("BEGIN")
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
            if name not in IGNORED_TABLES
        ]
        digests = {}
        for table in tables:
            digest = hashlib.sha256()
            rows = connection.execute(f'SELECT * FROM "{table}"').fetchall()
            for row in sorted(repr(r) for r in rows):
                digest.update(row.encode())
            digests[table] = (len(rows), digest.hexdigest())
        connection.execute("COMMIT")
        return digests
    finally:
        connection.close()


def settled_fingerprint():
    """The fingerprint once the store has been still for QUIET_SECONDS."""
    started = quiet_since = time.monotonic()
    current = fingerprint()
    while time.monotonic() - started < SETTLE_LIMIT_SECONDS:
        time.sleep(0.1)
        last, current = current, fingerprint()
        if current != last:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            break
    return current


# The fingerprint taken before the request in flight, by the case's id
# (`Case` has slots; requests go one at a time, with one worker), and whether
# the last request was an accepted change (background work may follow).
_before = {}
_changed = [False]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if DATABASE:
        _before.clear()
        _before[id(case)] = settled_fingerprint() if _changed[0] else fingerprint()
        _changed[0] = False


@schemathesis.hook
def after_call(ctx, case, response):
    if case.method.upper() != "GET" and response.status_code < 400:
        _changed[0] = True


@schemathesis.check
def refusal_in_json_error_shape(ctx, response, case):
    """A 4xx or 5xx answers `{"code": "...", "message": "..."}` as JSON."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    assert content_type.startswith("application/json"), (
        f"{response.status_code} answered {content_type!r}, not the JSON error shape"
    )
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(
        body.get("message"), str
    ), f"{response.status_code} answered {body!r}, not the JSON error shape"
    return None


@schemathesis.check
def refusal_stores_nothing(ctx, response, case):
    """A 4xx leaves every table as it was before the request."""
    before = _before.get(id(case))
    if before is None or not 400 <= response.status_code < 500:
        return None
    after = fingerprint()
    changed = sorted(
        table for table in set(before) | set(after) if before.get(table) != after.get(table)
    )
    assert not changed, (
        f"{response.status_code} refusal changed stored data in: {', '.join(changed)}"
    )
    return None
