"""What each device was told and what it fetched: "provisioned" when the
device fetched the file of its current generation, "pending" otherwise.

Kept on ``keys.provision_status`` (pushed_gen/ms, push_result, fetched_gen/ms);
the time a device waited between a change and fetching the matching file is
the lag histogram.
"""

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.kernel import keys
from services.kernel.batch import Batcher
from services.kernel.lua import queue, register


class StatusBook:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._batcher = Batcher(redis)  # the device-file path: see kernel.batch
        self._record: AsyncScript = register(redis, "services.provision", "record.lua")

    async def fetched(
        self, group: str, device_id: str, generation: int, now_ms: int
    ) -> float | None:
        """Record a fetch. Returns the lag in seconds from the change to this
        fetch when this is the first fetch of the generation last pushed
        (None otherwise: a repeated fetch, or one with no push recorded)."""
        [(before, pushed_gen, changed_ms)] = await self._batcher.run(
            [self._record],
            lambda batch: queue(
                batch,
                self._record,
                [keys.provision_status(group, device_id)],
                ["fetched", generation, now_ms],
            ),
        )
        if generation > int(before) and generation == int(pushed_gen) and int(changed_ms):
            return max(0.0, (now_ms - int(changed_ms)) / 1000)
        return None

    async def pushed(
        self,
        group: str,
        device_id: str,
        generation: int,
        now_ms: int,
        changed_ms: int,
        consumer_group: str,
        entry_ids: list[str],
    ) -> None:
        """Record a push and acknowledge the stream entries it answers."""
        await self._record(
            keys=[keys.provision_status(group, device_id), keys.events(group)],
            args=["pushed", generation, now_ms, changed_ms, consumer_group, *entry_ids],
        )

    async def acknowledge(self, group: str, consumer_group: str, entry_ids: list[str]) -> None:
        if entry_ids:
            await self._redis.xack(keys.events(group), consumer_group, *entry_ids)

    async def push_result(self, group: str, device_id: str, result: str) -> None:
        await self._redis.hset(keys.provision_status(group, device_id), "push_result", result)

    async def read(self, group: str, device_id: str) -> dict[str, str]:
        status: dict[str, str] = await self._redis.hgetall(keys.provision_status(group, device_id))
        return status
