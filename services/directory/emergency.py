"""What Kamailio keeps in memory per device for emergency calls, so that
one still goes out with the desk's caller ID, location and routes when
Redis or the binding service is unavailable. The import writes it into the
device's SIP credentials hash (which Kamailio already reads); Kamailio
copies it into its own memory at every REGISTER and emergency call."""

from collections.abc import Mapping

from services.directory.model import DeviceEntry
from services.kernel.location import location_json, pidf_lo
from services.kernel.peers import PeerConfig, route_targets
from services.kernel.tenants import TenantConfig

# Field names in the SIP credentials hash; kamailio.cfg (route
# EMERGENCY_CACHE) reads exactly these.
EMERGENCY_FIELDS = (
    "ecid",  # the desk's emergency caller ID (its callback number)
    "pidf",  # its PIDF-LO document ('' without a location)
    "loc",  # its location as JSON, for webhooks
    "where",  # its location in one line, for MESSAGEs
    "eroutes",  # the route of its emergency calls (Kamailio's route string)
    "enums",  # the tenant's emergency numbers, '|'-separated
    "cb_s",  # the callback window in seconds (0: none)
    "cb_peers",  # peers a callback may come from, space-separated
    "n_msg",  # SIP URIs told by MESSAGE, space-separated
    "n_hook",  # webhook URLs, space-separated
    "n_key",  # the key webhooks are signed with (HMAC-SHA256), '' for none
    "tenant",
)


def emergency_fields(
    device: DeviceEntry,
    tenant: TenantConfig,
    peers: Mapping[str, PeerConfig],
    domains: Mapping[str, str],
    webhook_secret: str = "",
) -> dict[str, str]:
    """``device``'s emergency data (its location already resolved), with
    ``peers`` the directory's peers by name, ``domains`` its tenants' SIP
    domains by id, and its tenant's webhook key."""
    loc = device.location
    route = tenant.emergency_route_for(loc.country if loc else None)
    inbound = sorted(p.name for p in peers.values() if p.inbound and tenant.id in p.tenants)
    return {
        "ecid": device.emergency_caller_id,
        "pidf": pidf_lo(loc, device.id, tenant.domain) if loc else "",
        "loc": location_json(loc),
        "where": loc.summary() if loc else "",
        "eroutes": route_targets(route, peers, domains, "emergency"),
        "enums": "|".join(tenant.emergency_numbers),
        "cb_s": str(tenant.emergency_callback_minutes * 60),
        "cb_peers": " ".join(inbound),
        "n_msg": " ".join(tenant.emergency_notify.messages),
        "n_hook": " ".join(tenant.emergency_notify.webhooks),
        "n_key": webhook_secret,
        "tenant": tenant.id,
    }
