"""A rolling upgrade: the next version writes fields this one does not
know, at the top of a record and inside it. This version keeps loading
tenants and peers, routes by them, and imports over them; only the
directory file itself is strict about unknown keys."""

import json

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.service import start_binding_service
from services.directory.importer import DirectoryImporter, ImportReport
from services.directory.load import DirectoryError, load_directory, parse_directory
from services.directory.plan import PlanRefused
from services.kernel import keys
from services.kernel.location import Location
from services.kernel.records import SCHEMA_VERSION, stored
from tests.directory.support import CHEAP, EXAMPLE, dump
from tests.support.redis_server import RedisServer
from tests.support.secrets import sealing_box
from tests.support.services import binding_settings


async def imported(redis: Redis) -> ImportReport:
    return await DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(load_directory(EXAMPLE))


def newer(doc: str) -> str:
    """``doc`` as a next version might write it: a new field at the top and
    one inside each nested record."""
    record = json.loads(doc)
    record["added_by_next_version"] = {"anything": 1}
    for name in ("feature_codes", "unavailable", "emergency_notify", "location"):
        if isinstance(record.get(name), dict):
            record[name]["also_new"] = True
    return json.dumps(record)


async def test_this_version_reads_what_the_next_one_wrote(
    redis: Redis, redis_server: RedisServer
) -> None:
    await imported(redis)
    for index in (keys.DIR_TENANTS, keys.DIR_PEERS):
        for name, doc in (await redis.hgetall(index)).items():
            await redis.hset(index, name, newer(doc))
    await redis.incr(keys.DIR_VERSION)

    binding = await start_binding_service(binding_settings(redis_server.url))
    try:
        assert binding.tenants.loaded
        acme = binding.tenants.by_id["acme"]
        assert acme.location is not None and acme.location.street == "Friedrichstraße"
        answer = await binding.core.route(
            pb.RouteRequest(
                caller_user="hd3001",
                caller_domain="hotdesk.local",
                callee_user="112",
                callee_domain="hotdesk.local",
            )
        )
        # The emergency route names a peer the next version rewrote.
        assert answer.callee_kind == pb.CALLEE_KIND_EMERGENCY
        assert answer.routes == "sip:127.0.0.1:5091"
    finally:
        await binding.stop()
    # An import by this version over the newer records still works (and
    # writes the records as this version knows them).
    assert (await imported(redis)).lines()[-1].startswith("0 added, 0 changed, 0 removed")


def test_the_directory_file_stays_strict() -> None:
    text = EXAMPLE.read_text().replace("    location: {floor:", "    location: {flor:", 1)
    with pytest.raises(DirectoryError) as exc:
        parse_directory(text, "dir.yaml")
    assert "flor: unknown field" in str(exc.value.problems[0])
    with pytest.raises(ValueError, match="extra"):
        Location.model_validate({"flor": "3"})
    assert stored(Location, '{"floor": "3", "flor": "3"}') == Location(floor="3")


async def test_this_version_does_not_import_over_a_newer_schema(redis: Redis) -> None:
    await imported(redis)
    assert await redis.get(keys.DIR_SCHEMA) == str(SCHEMA_VERSION)
    await redis.set(keys.DIR_SCHEMA, SCHEMA_VERSION + 1)
    before = await dump(redis)
    with pytest.raises(PlanRefused, match="written by a newer version"):
        await DirectoryImporter(redis, CHEAP, box=sealing_box()).apply(
            parse_directory(EXAMPLE.read_text().replace("Alice Example", "Alice Newname"), "d")
        )
    assert await dump(redis) == before
