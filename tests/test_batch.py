"""``kernel.batch``: raw replies in order, error replies raised with the
shared connection kept in step, scripts reloaded after NOSCRIPT, a killed
connection ridden out by the retry policy, a Redis that stops answering
given up at the socket timeout, concurrent batches each given their own
replies."""

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from services.kernel.batch import Batch, Batcher
from services.kernel.lua import queue
from services.kernel.redis_conn import connect
from tests.support.redis_server import RedisServer

_ECHO = "return {KEYS[1], ARGV[1], redis.call('GET', KEYS[1])}"


async def test_a_batch_answers_each_command_raw_and_in_order(redis: Redis) -> None:
    await redis.set("a", "1")
    await redis.hset("h", mapping={"x": "1", "y": "2", "Zürich ✓": "Grüße"})

    def commands(batch: Batch) -> None:
        batch.get("a")
        batch.get("missing")
        batch.hget("h", "Zürich ✓")
        batch.hmget("h", "x", "nope", "y")

    assert await Batcher(redis).run([], commands) == ["1", None, "Grüße", ["1", None, "2"]]


async def test_an_error_reply_is_raised_after_every_reply_is_read(redis: Redis) -> None:
    await redis.hset("h", "x", "1")

    def commands(batch: Batch) -> None:
        batch.get("h")  # WRONGTYPE
        batch.get("after")

    with pytest.raises(ResponseError):
        await Batcher(redis).run([], commands)
    # The connection went back to the pool in step with the server.
    for _ in range(3):
        assert await Batcher(redis).run([], lambda b: b.hget("h", "x")) == ["1"]


async def test_a_script_is_loaded_again_after_noscript(redis: Redis) -> None:
    await redis.set("k", "v")
    script = redis.register_script(_ECHO)

    def commands(batch: Batch) -> None:
        queue(batch, script, ["k"], ["arg"], read_only=True)

    assert await Batcher(redis).run([script], commands) == [["k", "arg", "v"]]
    await redis.script_flush()
    assert await Batcher(redis).run([script], commands) == [["k", "arg", "v"]]


async def test_a_killed_connection_is_reconnected_and_the_batch_resent(
    redis: Redis, redis_server: RedisServer
) -> None:
    await redis.set("a", "1")
    assert await Batcher(redis).run([], lambda b: b.get("a")) == ["1"]
    killer = connect(redis_server.url)
    try:  # the server closes every connection of the pool
        assert await killer.client_kill_filter(_type="normal", skipme=True) >= 1
    finally:
        await killer.aclose()
    assert await Batcher(redis).run([], lambda b: b.get("a")) == ["1"]


async def test_batches_waiting_on_a_silent_redis_fail_at_the_socket_timeout(
    redis_server: RedisServer,
) -> None:
    """Redis paused far longer than the client's timeout: each attempt ends
    its connection at the timeout, the one retry does the same, and both
    batches fail (none waits for the pause to end); once Redis answers
    again a batch goes through on a new connection."""
    admin = connect(redis_server.url)
    client = Redis.from_url(
        redis_server.url,
        decode_responses=True,
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[RedisTimeout],
    )
    try:
        await admin.set("a", "1")
        batcher = Batcher(client)
        assert await batcher.run([], lambda b: b.get("a")) == ["1"]
        # Far longer than both attempts' timeouts together (0.4 s).
        await admin.execute_command("CLIENT", "PAUSE", 3_000, "ALL")
        stuck = [batcher.run([], lambda b: b.get("a")) for _ in range(2)]
        outcomes = await asyncio.gather(*stuck, return_exceptions=True)
        await admin.ping()  # answered once the pause is over
        assert [type(o) for o in outcomes] == [RedisTimeout, RedisTimeout]
        assert await batcher.run([], lambda b: b.get("a")) == ["1"]
    finally:
        await client.aclose()
        await admin.aclose()


async def test_concurrent_batches_share_a_connection_each_with_its_own_replies(
    redis: Redis,
) -> None:
    for i in range(50):
        await redis.set(f"k{i}", str(i))
    batcher = Batcher(redis)

    async def read(i: int) -> list[Any]:
        def commands(batch: Batch) -> None:
            batch.get(f"k{i}")
            batch.hmget("none", "a")
            batch.get(f"k{(i + 1) % 50}")

        return await batcher.run([], commands)

    assert await read(1) == ["1", [None], "2"]  # the connection is open
    # A batch given up while waiting leaves the others' replies in place.
    abandoned = asyncio.ensure_future(read(0))
    await asyncio.sleep(0)  # written, waiting for its replies
    answers = asyncio.gather(*(read(i) for i in range(50)))
    abandoned.cancel()
    assert await answers == [[str(i), [None], str((i + 1) % 50)] for i in range(50)]
    assert await read(7) == ["7", [None], "8"]
