"""Importing directories into a real redis-server."""

import asyncio
from pathlib import Path

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.auth.credentials import sip_ha1
from services.auth.pins import PinHasher
from services.binding.core import BindingCore
from services.directory.importer import DirectoryImporter, ImportRefused
from services.directory.load import DirectoryError, load_directory, parse_directory
from services.kernel import keys
from services.kernel.tenants import TenantCache

EXAMPLE = Path(__file__).parents[2] / "examples" / "directory.yaml"
HASHER = PinHasher(time_cost=1, memory_cost_kib=8, parallelism=1)


async def dump(redis: Redis) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in sorted(await redis.keys("*")):
        kind = await redis.type(key)
        if kind == "hash":
            out[key] = await redis.hgetall(key)
        elif kind == "set":
            out[key] = await redis.smembers(key)
        elif kind == "string":
            out[key] = await redis.get(key)
        elif kind == "stream":
            out[key] = await redis.xrange(key)
    return out


async def core(redis: Redis) -> BindingCore:
    tenants = TenantCache(redis)
    await tenants.refresh()
    return BindingCore(redis, tenants)


def edited(**replacements: str) -> str:
    text = EXAMPLE.read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


async def test_import_then_reimport_is_a_no_op(redis: Redis) -> None:
    importer = DirectoryImporter(redis, HASHER)
    first = await importer.apply(load_directory(EXAMPLE))
    assert len(first.added) == 11 and not first.changed and not first.removed
    assert first.version == 1
    before = await dump(redis)
    again = await importer.apply(load_directory(EXAMPLE))
    assert again.unchanged and again.version == 1
    assert await dump(redis) == before  # PIN hashes too: not re-salted


async def test_what_the_import_writes(redis: Redis) -> None:
    await DirectoryImporter(redis, HASHER).apply(load_directory(EXAMPLE))
    group = "acme-group"
    assert await redis.hgetall(keys.user(group, "acme", "1001")) == {
        "name": "Alice Example",
        "caller_id": "+4930123451001",
        "hotdesk": "1",
        "hotdesk_id": "alice",
    }
    pin_hash = await redis.get(keys.pin(group, "acme", "1001"))
    assert pin_hash.startswith("$argon2id$") and HASHER.verify(pin_hash, "4711")
    assert await redis.get(keys.pin(group, "acme", "2001")) is None
    creds = await redis.hgetall(keys.sip_credentials("hotdesk.local", "hd3001"))
    assert creds["ha1"] == sip_ha1("hd3001", "hotdesk.local", "demo-secret-hd3001")
    assert await redis.hget(keys.DIR_HOTDESK_IDS, "gus") == "globex/3001"
    assert await redis.hget(keys.DIR_DOMAINS, "globex.local") == "globex"
    assert await redis.smembers(keys.tenant_devices(group, "acme")) == {
        "hd3001",
        "hd3002",
        "hd3003",
    }


async def test_changes_keep_live_sessions(redis: Redis) -> None:
    importer = DirectoryImporter(redis, HASHER)
    await importer.apply(load_directory(EXAMPLE))
    binding = await core(redis)
    await binding.login(
        "hd3001", pb.UserRef(tenant="acme", extension="1001"), allow_takeover=False, actor="t"
    )
    report = await importer.apply(
        parse_directory(
            edited(
                **{
                    "Alice Example": "Alice Renamed",
                    "model: T54W\n    tenant: acme": "model: T57W\n    tenant: acme",
                }
            ),
            "d.yaml",
        )
    )
    assert sorted(report.changed) == [
        "~ device hd3001: model 'T54W' -> 'T57W'",
        "~ user acme/1001: name 'Alice Example' -> 'Alice Renamed'",
    ]
    state = await binding.get_by_device("hd3001")
    assert state is not None and state.model == "T57W"
    assert state.binding.display_name == "Alice Renamed"


async def test_removals_end_sessions_and_remove_every_key(redis: Redis) -> None:
    importer = DirectoryImporter(redis, HASHER)
    await importer.apply(load_directory(EXAMPLE))
    binding = await core(redis)
    await binding.login(
        "hd3002", pb.UserRef(tenant="acme", extension="1001"), allow_takeover=False, actor="t"
    )
    await binding.login(
        "hd3001", pb.UserRef(tenant="acme", extension="1003"), allow_takeover=False, actor="t"
    )
    text = EXAMPLE.read_text()
    start = text.index('  - tenant: acme\n    extension: "1001"')
    end = text.index('  - tenant: acme\n    extension: "1002"')
    text = text[:start] + text[end:]
    start = text.index("  - id: hd3001")
    end = text.index("  - id: hd3002")
    text = text[:start] + text[end:]
    report = await importer.apply(parse_directory(text, "d.yaml"))
    assert sorted(report.removed) == ["- device hd3001", "- user acme/1001"]
    assert sorted(report.sessions_ended) == ["acme/1001@hd3002", "acme/1003@hd3001"]
    group = "acme-group"
    for key in (
        keys.user(group, "acme", "1001"),
        keys.pin(group, "acme", "1001"),
        keys.device(group, "hd3001"),
        keys.sip_credentials("hotdesk.local", "hd3001"),
    ):
        assert not await redis.exists(key), key
    assert await redis.hget(keys.DIR_HOTDESK_IDS, "alice") is None
    assert await redis.hget(keys.DIR_DEVICES, "hd3001") is None
    reasons = [e["reason"] for _, e in await redis.xrange(keys.events(group))]
    assert reasons[-2:] == ["directory", "directory"]
    state = await binding.get_by_device("hd3002")
    assert state is not None and not state.HasField("binding")


async def test_nothing_is_written_for_an_invalid_file(redis: Redis) -> None:
    await DirectoryImporter(redis, HASHER).apply(load_directory(EXAMPLE))
    before = await dump(redis)
    with pytest.raises(DirectoryError):
        parse_directory(edited(**{'pin: "8264"': 'pin: "1111"'}), "bad.yaml")
    with pytest.raises(ImportRefused, match="remove the tenant first"):
        await DirectoryImporter(redis, HASHER).apply(
            parse_directory(
                edited(**{"acme-group\n\nusers": "other\n\nusers"}),
                "d.yaml",
            )
        )
    assert await dump(redis) == before


async def test_dry_run_writes_nothing(redis: Redis) -> None:
    report = await DirectoryImporter(redis, HASHER).apply(load_directory(EXAMPLE), dry_run=True)
    assert len(report.added) == 11
    assert await redis.keys("*") == []


async def test_concurrent_imports_do_not_interleave(redis: Redis) -> None:
    a = load_directory(EXAMPLE)
    b = parse_directory(edited(**{"Bob Example": "Bob B"}), "b.yaml")
    results = await asyncio.gather(
        DirectoryImporter(redis, HASHER).apply(a),
        DirectoryImporter(redis, HASHER).apply(b),
        return_exceptions=True,
    )
    applied = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ImportRefused)]
    assert len(applied) + len(refused) == 2 and applied
    assert int(await redis.get(keys.DIR_VERSION)) == len(applied)
    name = await redis.hget(keys.user("acme-group", "acme", "1002"), "name")
    assert name in ("Bob Example", "Bob B")
    # Whatever won, the state is exactly one file's: importing it again is a no-op.
    winner = a if name == "Bob Example" else b
    assert (await DirectoryImporter(redis, HASHER).apply(winner)).unchanged
