"""Kamailio's lookup for calls from peers, to DIDs, out of the edge, and the
unavailable rules it hands Kamailio."""

import pytest
from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis

from services.binding.core import BindingCore
from services.kernel.peers import PeerConfig
from services.kernel.tenants import TenantConfig, Unavailable
from tests.binding.conftest import fresh_core, login
from tests.support import seed
from tests.support.clock import FakeClock
from tests.support.redis_traffic import Traffic, traffic

GW = "sip:192.0.2.10:5060"


def from_peer(peer: str, callee: str, domain: str = "acme.example") -> pb.RouteRequest:
    return pb.RouteRequest(
        caller_peer=peer,
        caller_user="+4915112345678",
        caller_domain="carrier.example",
        callee_user=callee,
        callee_domain=domain,
    )


def from_phone(device: str, callee: str, domain: str = "acme.example") -> pb.RouteRequest:
    return pb.RouteRequest(
        caller_user=device, caller_domain=domain, callee_user=callee, callee_domain=domain
    )


@pytest.fixture
async def core(redis: Redis, clock: FakeClock) -> BindingCore:
    acme = await seed.tenant(
        redis,
        TenantConfig(
            id="acme",
            domain="acme.example",
            outbound_peer="carrier",
            emergency_route=("psap-a", "pbx", "psap-b"),
        ),
    )
    beta = await seed.tenant(redis, TenantConfig(id="beta", domain="beta.example"))
    await seed.user(redis, acme, "1001", "Alice", dids=("+4930111001", "+4930111009"))
    await seed.user(
        redis,
        acme,
        "1003",
        "Carol",
        dids=("+4930111003",),
        unavailable=Unavailable(action="forward", target="+4917600000003", ring_seconds=12),
    )
    await seed.user(
        redis,
        acme,
        "1004",
        "Dave",
        unavailable=Unavailable(action="forward", target="sip:vm@vm.example"),
    )
    await seed.user(redis, acme, "2001", "Fixed", hotdesk=False, dids=("+4930112001",))
    await seed.user(redis, beta, "1001", "Beta One", dids=("+4940222001",))
    for device in ("hd3001", "hd3002"):
        await seed.device(redis, acme, device)
    await seed.peer(
        redis,
        PeerConfig(
            name="carrier",
            tenants=("acme", "beta"),
            addresses=("192.0.2.10",),
            destination=GW,
            numbers=("+4930111",),
        ),
    )
    await seed.peer(
        redis, PeerConfig(name="pbx", tenants=("acme",), direction="inbound", username="pbx")
    )
    await seed.peer(
        redis,
        PeerConfig(name="psap-a", tenants=("acme",), direction="outbound", destination=GW),
    )
    await seed.peer(
        redis,
        PeerConfig(
            name="psap-b", tenants=("acme",), direction="outbound", destination="sip:psap-b"
        ),
    )
    return await fresh_core(redis, clock)


async def test_a_peer_reaches_a_logged_in_user_by_did_and_extension(core: BindingCore) -> None:
    await login(core, "hd3002", "1001")
    for callee in ("+4930111001", "4930111009", "1001"):
        r = await core.route(from_peer("carrier", callee))
        assert (r.caller_kind, r.callee_kind) == (pb.CALLER_KIND_PEER, pb.CALLEE_KIND_USER_BOUND)
        assert (r.callee_device, r.callee_device_domain) == ("hd3002", "acme.example")
        assert (r.callee_extension, r.callee_domain) == ("1001", "acme.example")
        assert (r.caller_extension, r.caller_id) == ("", "")  # the peer's identity stays


async def test_a_peer_gets_nothing_it_does_not_serve(core: BindingCore) -> None:
    cases = [
        # beta's DID is outside the carrier's number ranges
        (from_peer("carrier", "+4940222001"), pb.CALLEE_KIND_NOT_FOUND),
        # an extension in a domain the peer does not serve, and no user
        (from_peer("carrier", "1001", domain="edge.example"), pb.CALLEE_KIND_NOT_FOUND),
        (from_peer("carrier", "1099"), pb.CALLEE_KIND_NOT_FOUND),
        # no transit: an outside number, an emergency number, a feature code
        (from_peer("carrier", "+4989123456"), pb.CALLEE_KIND_NOT_FOUND),
        (from_peer("carrier", "112"), pb.CALLEE_KIND_NOT_FOUND),
        (from_peer("carrier", "*45"), pb.CALLEE_KIND_NOT_FOUND),
        # outbound-only and unknown peers may not call in
        (from_peer("psap-a", "1001"), pb.CALLEE_KIND_REFUSED),
        (from_peer("nobody", "1001"), pb.CALLEE_KIND_REFUSED),
    ]
    for request, kind in cases:
        r = await core.route(request)
        assert (r.caller_kind, r.callee_kind) == (pb.CALLER_KIND_PEER, kind), request


async def test_a_single_tenant_peer_needs_no_domain(core: BindingCore) -> None:
    r = await core.route(from_peer("pbx", "1003", domain="10.0.0.1"))
    assert (r.callee_kind, r.callee_extension) == (pb.CALLEE_KIND_USER_LOGGED_OUT, "1003")


async def test_unavailable_rules_reach_kamailio(core: BindingCore) -> None:
    reject = await core.route(from_peer("carrier", "+4930111001"))
    assert reject.callee_kind == pb.CALLEE_KIND_USER_LOGGED_OUT
    assert (reject.unavailable_uri, reject.unavailable_routes, reject.ring_seconds) == (
        "",
        "",
        30,
    )
    mobile = await core.route(from_peer("carrier", "+4930111003"))
    assert (mobile.unavailable_uri, mobile.unavailable_routes, mobile.ring_seconds) == (
        "sip:+4917600000003@acme.example",
        GW,
        12,
    )
    voicemail = await core.route(from_phone("hd3001", "1004"))
    assert (voicemail.unavailable_uri, voicemail.unavailable_routes) == ("sip:vm@vm.example",) * 2


async def test_a_non_hotdesk_users_did_rings_her_extension(core: BindingCore) -> None:
    r = await core.route(from_peer("carrier", "+4930112001"))
    assert (r.callee_kind, r.callee_extension, r.callee_domain) == (
        pb.CALLEE_KIND_NOT_FOUND,  # outside the carrier's ranges
        "",
        "",
    )
    r = await core.route(from_phone("hd3001", "+4930112001"))
    assert (r.callee_kind, r.callee_extension, r.callee_domain) == (
        pb.CALLEE_KIND_USER_FIXED,
        "2001",
        "acme.example",
    )


async def test_phones_dial_dids_and_outside_numbers(core: BindingCore) -> None:
    await login(core, "hd3001", "1003")
    await login(core, "hd3002", "1001")
    inside = await core.route(from_phone("hd3002", "+4940222001"))  # beta's user, by DID
    assert (inside.callee_kind, inside.callee_extension, inside.callee_domain) == (
        pb.CALLEE_KIND_USER_LOGGED_OUT,
        "1001",
        "beta.example",
    )
    outside = await core.route(from_phone("hd3001", "+4989123456"))
    assert (outside.caller_kind, outside.callee_kind, outside.routes) == (
        pb.CALLER_KIND_DEVICE_BOUND,
        pb.CALLEE_KIND_OUTSIDE,
        GW,
    )
    assert (outside.caller_extension, outside.caller_domain) == ("1003", "acme.example")
    emergency = await core.route(from_phone("hd3001", "112"))
    # In order; the registering PBX is reached at its registered contact.
    assert emergency.routes == f"{GW} aor:sip:pbx@acme.example sip:psap-b"


async def test_tenants_without_routes_use_the_edges_gateways(
    redis: Redis, acme: TenantConfig, clock: FakeClock
) -> None:
    core = await fresh_core(redis, clock)
    assert (await core.route(from_phone("hd3001", "+4989123456"))).routes == "pstn"
    assert (await core.route(from_phone("hd3001", "112"))).routes == "emergency"


async def test_one_round_trip_for_a_peers_lookup(
    core: BindingCore, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first lookup opens the connection lookups share (HELLO, AUTH, ...).
    await core.route(from_peer("carrier", "+4930111001"))
    by_did = core.route(from_peer("carrier", "+4930111001"))
    assert await traffic(redis, monkeypatch, by_did) == Traffic(1, 1, set())
    refused = core.route(from_peer("psap-a", "+4930111001"))
    assert await traffic(redis, monkeypatch, refused) == Traffic(0, 0, set())


async def test_new_dids_route_after_the_directory_changes(core: BindingCore, redis: Redis) -> None:
    acme = TenantConfig(id="acme", domain="acme.example", outbound_peer="carrier")
    await seed.user(redis, acme, "1005", "Eve", dids=("+4930111005",))
    tenants = core._routes._tenants  # the cache the service's loop refreshes
    await tenants.refresh()
    r = await core.route(from_peer("carrier", "+4930111005"))
    assert (r.callee_kind, r.callee_extension) == (pb.CALLEE_KIND_USER_LOGGED_OUT, "1005")
