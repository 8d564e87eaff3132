"""A location for one session: the user sits at a desk that is not where
the directory says (a desk moved for a week, a phone taken to another
room). Emergency calls from the device send it until the session ends:
it is stored with the device's generation at the time, and any login or
logout bumps the generation, so it can never outlive the session."""

from hotdesk.v1 import binding_pb2 as pb
from pydantic import ValidationError
from redis.asyncio import Redis

from services.binding import metrics
from services.kernel import keys
from services.kernel.audit import AuditTrail
from services.kernel.errors import InvalidArgument
from services.kernel.location import Location, location_json
from services.kernel.lookup import DirectoryLookup
from services.kernel.records import stored

# KEYS[1] the device hash; ARGV: the generation read, the location JSON
# ('' clears). Written only if no login or logout came in between.
_SET = """
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], 'session_location', 'session_location_gen')
else
  redis.call('HSET', KEYS[1], 'session_location', ARGV[2], 'session_location_gen', ARGV[1])
end
return 1
"""


def _parsed(doc: str) -> Location:
    try:
        return Location.model_validate_json(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'location'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidArgument(f"location_json: {problems}") from None


class SessionLocations:
    def __init__(self, redis: Redis, lookup: DirectoryLookup, audit: AuditTrail) -> None:
        self._redis = redis
        self._lookup = lookup
        self._audit = audit
        self._set = redis.register_script(_SET)

    async def set(
        self, device_id: str, doc: str, actor: str, session: pb.DeviceState | None
    ) -> pb.SetSessionLocationResponse:
        """Set (``doc`` a location, its fields over the desk's) or clear
        (``doc`` empty) the location of the live ``session`` on the device."""
        given = _parsed(doc) if doc else None
        tenant = await self._lookup.device_tenant(device_id)
        if tenant is None or session is None:
            return pb.SetSessionLocationResponse(result=pb.SESSION_LOCATION_RESULT_UNKNOWN_DEVICE)
        if not session.HasField("binding"):
            return pb.SetSessionLocationResponse(result=pb.SESSION_LOCATION_RESULT_NO_SESSION)
        key = keys.device(tenant.group, device_id)
        desk_doc = await self._redis.hget(key, "location")
        desk = stored(Location, desk_doc) if desk_doc else None
        location = given.over(desk) if given is not None else None
        if location is not None and (why := location.incomplete()):
            raise InvalidArgument(f"location_json: the merged location {why}")
        if not await self._set(keys=[key], args=[session.generation, location_json(location)]):
            # A login or logout in between: that session is not this one.
            return pb.SetSessionLocationResponse(result=pb.SESSION_LOCATION_RESULT_NO_SESSION)
        b = session.binding
        result = pb.SESSION_LOCATION_RESULT_SET if location else pb.SESSION_LOCATION_RESULT_CLEARED
        metrics.SESSION_LOCATIONS.labels("set" if location else "cleared").inc()
        await self._audit.record(
            tenant.group,
            "session_location",
            device=device_id,
            user=f"{b.tenant}/{b.extension}",
            actor=actor,
            location=location.summary() if location else "(the desk's own again)",
        )
        return pb.SetSessionLocationResponse(
            result=result,
            binding=b,
            location_json=location_json(location if location else desk),
        )
