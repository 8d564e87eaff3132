"""Kamailio's lookup: who is calling and where the callee rings, for every
initial INVITE (and MESSAGE, and a peer's message-summary NOTIFY).

At most one Redis round trip: tenants, peers and DIDs come from memory
(reloaded with the tenants whenever an import bumps the directory version,
so a brand-new entry routes as unknown for up to a second); route.lua reads
the caller's device and the callee user in one script call, or two
calls in one batch when they live in different groups.
"""

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeAlias

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from services.binding.dialplan import classify
from services.binding.scripts import BindingScripts, ScriptCall
from services.kernel import keys
from services.kernel.batch import Batch, Batcher
from services.kernel.clock import Clock
from services.kernel.location import Location, pidf_lo
from services.kernel.logs import fields
from services.kernel.lua import queue
from services.kernel.peers import PeerConfig, route_targets
from services.kernel.records import stored
from services.kernel.tenants import TenantCache, TenantConfig, Unavailable

log = logging.getLogger(__name__)

_Side: TypeAlias = tuple[str, str]  # (group, key) of one side of a lookup
_Fields: TypeAlias = dict[str, str]
# What a peer may not do, and what a peer calls that nobody answers.
_REFUSED = pb.RouteResponse(caller_kind=pb.CALLER_KIND_PEER, callee_kind=pb.CALLEE_KIND_REFUSED)
_NOT_FOUND = pb.RouteResponse(caller_kind=pb.CALLER_KIND_PEER, callee_kind=pb.CALLEE_KIND_NOT_FOUND)


def _looks_like_number(user: str) -> bool:
    """What goes out to a gateway when no user answers it (as Kamailio's
    own rule for unknown callees always was)."""
    digits = user.removeprefix("+")
    return len(digits) >= 3 and digits.isdigit()


@lru_cache(maxsize=4096)
def _own_rule(doc: str) -> Unavailable:
    """A user's own unavailable rule, as the import stored it (JSON)."""
    return stored(Unavailable, doc)


class RoutingIndex:
    """Peers by name and DIDs, as the directory holds them; ``reload`` is
    registered with the tenant cache so that all three change together."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.peers: dict[str, PeerConfig] = {}
        self.numbers: dict[str, tuple[str, str]] = {}  # "+E.164" -> (tenant, extension)

    async def reload(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.DIR_PEERS)
            pipe.hgetall(keys.DIR_NUMBERS)
            peers, numbers = await pipe.execute()
        self.peers = {name: stored(PeerConfig, doc) for name, doc in peers.items()}
        self.numbers = {}
        for number, ref in numbers.items():
            tenant, extension = ref.split("/", 1)
            self.numbers[number] = (tenant, extension)
        log.info("routing_loaded", extra=fields(peers=len(self.peers), dids=len(self.numbers)))

    def did(self, user: str) -> tuple[str, str] | None:
        """The user a dialled DID rings, with or without its leading +."""
        if not user[:1].isdigit() and not user.startswith("+"):
            return None
        return self.numbers.get(user if user.startswith("+") else "+" + user)

    def routes(self, peer_names: Sequence[str], tenants: TenantCache, default: str) -> str:
        """The routes to the peers named (in order), or ``default`` ("pstn",
        "emergency") when none is configured."""
        return route_targets(peer_names, self.peers, tenants.domains, default)


class RouteLookup:
    def __init__(
        self,
        redis: Redis,
        tenants: TenantCache,
        index: RoutingIndex,
        scripts: BindingScripts,
        clock: Clock,
    ) -> None:
        self._batches = Batcher(redis)
        self._tenants = tenants
        self._index = index
        self._scripts = scripts
        self._clock = clock

    async def route(self, req: pb.RouteRequest) -> pb.RouteResponse:
        if req.caller_peer:
            return await self._from_peer(req)
        return await self._from_phone(req)

    # -- a peer calls ------------------------------------------------------------

    async def _from_peer(self, req: pb.RouteRequest) -> pb.RouteResponse:
        """A trunk or PBX calls a user: by DID (within the peer's number
        ranges), or by extension in the tenant the Request-URI's domain names
        (or the peer's only tenant). Nothing else: a peer never transits."""
        peer = self._index.peers.get(req.caller_peer)
        if peer is None or not peer.inbound:
            return _REFUSED
        did = self._index.did(req.callee_user)
        if did is not None:
            tenant_id, extension = did
            number = req.callee_user if req.callee_user.startswith("+") else "+" + req.callee_user
            if tenant_id not in peer.tenants or not peer.may_deliver(number):
                return _NOT_FOUND
        else:
            named = self._tenants.by_domain.get(req.callee_domain)
            if named is not None and named.id in peer.tenants:
                tenant_id = named.id
            elif len(peer.tenants) == 1:
                tenant_id = peer.tenants[0]
            else:
                return _NOT_FOUND
            extension = req.callee_user
        tenant = self._tenants.by_id.get(tenant_id)
        if tenant is None or not extension.isdigit():
            return _NOT_FOUND
        response = pb.RouteResponse(caller_kind=pb.CALLER_KIND_PEER)
        group = tenant.group
        _, callee = await self._sides(None, (group, keys.user(group, tenant.id, extension)))
        if not self._fill_callee(response, tenant, extension, callee):
            return _NOT_FOUND
        return response

    # -- a phone calls -----------------------------------------------------------

    async def _from_phone(self, req: pb.RouteRequest) -> pb.RouteResponse:
        by_domain = self._tenants.by_domain
        caller_tenant = by_domain.get(req.caller_domain)
        response = pb.RouteResponse(
            caller_kind=pb.CALLER_KIND_OTHER, callee_kind=pb.CALLEE_KIND_OTHER
        )
        callee_tenant: TenantConfig | None = by_domain.get(req.callee_domain)
        extension = req.callee_user
        kind, feature = classify(req.callee_user, caller_tenant, callee_tenant)
        emergency = kind == pb.CALLEE_KIND_EMERGENCY
        if kind:
            response.callee_kind = kind
            response.feature = feature
            callee_tenant = None  # no user to look up
        elif (did := self._index.did(req.callee_user)) is not None:
            callee_tenant, extension = self._tenants.by_id.get(did[0]), did[1]
        caller_side = (
            (caller_tenant.group, keys.device(caller_tenant.group, req.caller_user))
            if caller_tenant is not None and req.caller_user
            else None
        )
        callee_side = (
            (callee_tenant.group, keys.user(callee_tenant.group, callee_tenant.id, extension))
            if callee_tenant is not None and extension
            else None
        )
        caller, callee = await self._sides(caller_side, callee_side, emergency)
        response.directory_version = self._tenants.version
        if caller_tenant is not None and caller:
            self._fill_caller(response, caller_tenant, caller)
            response.caller_check = _check(
                caller_tenant.group, keys.route_generation_of_device(req.caller_user)
            )
            response.caller_generation = caller["route_gen"]
            response.caller_until = _until(caller["expires"])
        if emergency and caller_tenant is not None:
            self._fill_emergency(response, caller_tenant, req.caller_user, caller)
        if callee_tenant is not None and callee:
            self._fill_callee(response, callee_tenant, extension, callee)
            if response.callee_extension:  # a user: her half can be kept
                user = keys.route_generation_of_user(callee_tenant.id, extension)
                response.callee_check = _check(callee_tenant.group, user)
                response.callee_generation = callee["route_gen"]
                response.callee_until = _until(callee["expires"])
        if (
            response.callee_kind == pb.CALLEE_KIND_OTHER
            and caller_tenant is not None
            and _looks_like_number(req.callee_user)
        ):
            response.callee_kind = pb.CALLEE_KIND_OUTSIDE
            response.routes = self._outbound_routes(caller_tenant)
        return response

    def _outbound_routes(self, tenant: TenantConfig) -> str:
        peers = [tenant.outbound_peer] if tenant.outbound_peer else []
        return self._index.routes(peers, self._tenants, "pstn")

    # -- Redis ----------------------------------------------------------------------

    async def _sides(
        self, caller: _Side | None, callee: _Side | None, emergency: bool = False
    ) -> tuple[_Fields, _Fields]:
        """route.lua's caller and callee parts (empty when not asked for), in
        one round trip: one script call, or a pipeline of two across groups.
        Each part is a dict of named fields; an emergency call's caller part
        has the desk's location."""
        script = self._scripts.route
        now = self._clock()
        flag = "e" if emergency else ""

        def call(mode: str, side: _Side) -> ScriptCall:
            return [side[1]], [mode, keys.prefix(side[0]), now, flag]

        if caller is not None and callee is not None:
            if caller[0] != callee[0]:
                c, u = await self._run(script, [call("c", caller), call("u", callee)])
                return _named(c[0]), _named(u[0])
            ((c, u),) = await self._run(
                script, [([caller[1], callee[1]], ["cu", keys.prefix(caller[0]), now, flag])]
            )
            return _named(c), _named(u)
        if caller is not None:
            ((c,),) = await self._run(script, [call("c", caller)])
            return _named(c), {}
        if callee is not None:
            ((u,),) = await self._run(script, [call("u", callee)])
            return {}, _named(u)
        return {}, {}

    async def _run(self, script: AsyncScript, calls: Sequence[ScriptCall]) -> list[Any]:
        """The replies of ``calls`` of ``script``, in one round trip (keys
        in different slots may go to different nodes of a cluster)."""

        def commands(batch: Batch) -> None:
            for keys_, args in calls:
                queue(batch, script, keys_, args)

        return await self._batches.run([script], commands)

    # -- answers --------------------------------------------------------------------

    def _fill_caller(self, response: pb.RouteResponse, tenant: TenantConfig, c: _Fields) -> None:
        # A device of another tenant of the group, named with this domain, is
        # not the device that authenticated: no rewrite.
        if c["device_tenant"] != tenant.id:
            return
        response.emergency_caller_id = c["emergency_cid"]
        if c["hotdesk"] != "1":
            return
        if not c["extension"]:
            response.caller_kind = pb.CALLER_KIND_DEVICE_IDLE
            return
        response.caller_kind = pb.CALLER_KIND_DEVICE_BOUND
        response.caller_tenant = c["user_tenant"]
        response.caller_extension = c["extension"]
        response.caller_display_name = c["name"]
        response.caller_id = c["caller_id"]
        user_tenant = self._tenants.by_id.get(c["user_tenant"])
        response.caller_domain = user_tenant.domain if user_tenant is not None else ""

    def _fill_emergency(
        self, response: pb.RouteResponse, tenant: TenantConfig, device: str, c: _Fields
    ) -> None:
        """The route of an emergency call (by the country of the desk's
        location) and the location itself, as PIDF-LO."""
        location = _location(c.get("location", "")) if c.get("device_tenant") == tenant.id else None
        country = location.country if location is not None else None
        response.routes = self._index.routes(
            tenant.emergency_route_for(country), self._tenants, "emergency"
        )
        if location is not None:
            response.emergency_location = pidf_lo(location, device, tenant.domain)
            response.emergency_where = location.summary()
            response.emergency_location_json = c["location"]

    def _fill_callee(
        self, response: pb.RouteResponse, tenant: TenantConfig, extension: str, c: _Fields
    ) -> bool:
        """The callee part of a known user (False: no such user)."""
        if c["hotdesk"] == "":
            return False
        response.callee_extension = extension
        response.callee_domain = tenant.domain
        rule = _own_rule(c["unavailable"]) if c["unavailable"] else tenant.unavailable
        response.ring_seconds = rule.ring_seconds
        if rule.action == "forward" and rule.target:
            if rule.target.startswith("+"):
                response.unavailable_uri = f"sip:{rule.target}@{tenant.domain}"
                response.unavailable_routes = self._outbound_routes(tenant)
            else:
                response.unavailable_uri = response.unavailable_routes = rule.target
        if c["hotdesk"] != "1":
            response.callee_kind = pb.CALLEE_KIND_USER_FIXED
            return True
        device_tenant = self._tenants.by_id.get(c["device_tenant"])
        if c["device"] and device_tenant is not None:
            response.callee_kind = pb.CALLEE_KIND_USER_BOUND
            response.callee_device = c["device"]
            response.callee_device_domain = device_tenant.domain
        else:
            response.callee_kind = pb.CALLEE_KIND_USER_LOGGED_OUT
        return True


@lru_cache(maxsize=4096)
def _location_doc(doc: str) -> Location:
    return stored(Location, doc)


def _location(doc: str) -> Location | None:
    """A location as the directory (or a session) stored it."""
    return _location_doc(doc) if doc else None


def _check(group: str, field: str) -> str:
    """What the edge's route cache reads to know a half is still good:
    "<key> <field>" of the group's route generations."""
    return f"{keys.route_generations(group)} {field}"


def _until(expires_ms: str) -> str:
    """Until when (whole Unix seconds, rounded down: never past the
    session's end) a half that relied on a session expiring at
    ``expires_ms`` ("0": none) holds."""
    return str(int(expires_ms) // 1000)


def _named(part: Sequence[Any]) -> _Fields:
    """A flat [name, value, name, value, ...] list from route.lua."""
    return dict(zip(part[0::2], part[1::2], strict=True))
