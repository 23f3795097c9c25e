"""One limits suite, two backends: each test runs in memory and on the local Redis.

Redis tests use a key prefix of their own, deleted afterwards, so runs never see each other's
counters. When Redis is not reachable they skip, or fail when ``CI`` is set: in CI both backends
must run. ``redis_backend`` is for the few tests about Redis itself (TTLs, lost connections).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from limits_backends import Backend, delete_prefix, redis_problem


def _redis() -> Iterator[Backend]:
    problem = redis_problem()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    harness = Backend("redis")
    try:
        yield harness
    finally:
        for prefix in harness.prefixes:
            delete_prefix(prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        yield Backend("memory")
    else:
        yield from _redis()


@pytest.fixture
def redis_backend() -> Iterator[Backend]:
    yield from _redis()
