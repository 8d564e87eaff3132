"""The Redis key schema, the one place every service takes key names from.

Two kinds of keys:

* Directory index keys, tagged ``{dir}``: small, read outside Lua scripts,
  written only by ``hotdesk directory import``.
* Per-group keys, tagged ``{<group>}``, where the group is the tenant's
  ``cross_tenant_group`` or else the tenant id. Everything one login touches
  (both devices, both users, the expiry index, the event stream, PIN
  failure counters) shares the group's tag and so one Redis Cluster slot;
  cross-tenant logins are allowed only inside one group.

Hash fields
-----------
``device(g, id)``  static (import): tenant, mac, vendor, model, emergency_cid,
                   hotdesk ("1"/"0")
                   session (scripts): user_tenant, user_ext, since_ms,
                   expires_ms, gen (increases on every change; never reset);
                   read only through ``sessions``
``user(g, t, e)``  static (import): name, caller_id, hotdesk ("1"/"0"), hotdesk_id,
                   dids (comma-separated), unavailable (JSON of the user's
                   own rule, "" for the tenant's)
                   session (scripts): device, since_ms
``sip_credentials(domain, id)``  ha1, ha1b, secret (auth-owned; Kamailio
                   reads ha1 through ndb_redis); a registering peer's hash
                   has ha1, ha1b and peer (its name), never the password
``profiles(g, t, e)``  one field per phone model, "<vendor>/<model>" -> JSON
                   profile (provision-owned; goes with the user)
``provision_status(g, id)``  pushed_gen, pushed_ms, push_result, fetched_gen,
                   fetched_ms (provision-owned; goes with the device)
"""

DIR_TENANTS = "hd:{dir}:tenants"  # hash tenant id -> JSON TenantConfig
DIR_DOMAINS = "hd:{dir}:domains"  # hash SIP domain -> tenant id
DIR_DEVICES = "hd:{dir}:devices"  # hash device id -> tenant id
DIR_HOTDESK_IDS = "hd:{dir}:hotdesk_ids"  # hash hot-desk id -> "tenant/extension"
DIR_MACS = "hd:{dir}:macs"  # hash MAC (12 lowercase hex digits) -> device id
DIR_PEERS = "hd:{dir}:peers"  # hash peer name -> JSON PeerConfig (no secrets)
DIR_NUMBERS = "hd:{dir}:numbers"  # hash DID (+E.164) -> "tenant/extension"
# hash: "file" the peers' source addresses in Kamailio's permissions
# address-file format, "digest" its SHA-256 (Kamailio reloads on a change)
DIR_PEER_SOURCES = "hd:{dir}:peer_sources"
DIR_VERSION = "hd:{dir}:version"  # integer, incremented by every import that changes anything
DIR_SCHEMA = "hd:{dir}:schema"  # integer: the stored records' schema (records.SCHEMA_VERSION)
# string: the token of the import running on a Redis Cluster (expires)
DIR_IMPORT_LOCK = "hd:{dir}:import_lock"


def tag(group: str) -> str:
    return "{" + group + "}"


def prefix(group: str) -> str:
    """Key prefix of a group; Lua scripts derive same-slot keys from it."""
    return f"hd:{tag(group)}:"


def device(group: str, device_id: str) -> str:
    return f"{prefix(group)}dev:{device_id}"


def user(group: str, tenant: str, extension: str) -> str:
    return f"{prefix(group)}usr:{tenant}:{extension}"


def tenant_devices(group: str, tenant: str) -> str:
    """Set of the device ids of a tenant."""
    return f"{prefix(group)}devices:{tenant}"


def tenant_users(group: str, tenant: str) -> str:
    """Set of the extensions of a tenant."""
    return f"{prefix(group)}users:{tenant}"


def bound(group: str) -> str:
    """Set of the device ids in the group that have a user logged in."""
    return f"{prefix(group)}bound"


def expiry(group: str) -> str:
    """Sorted set: device id scored by its session's expiry (ms)."""
    return f"{prefix(group)}expiry"


def route_generations(group: str) -> str:
    """Hash: "dev:<id>" and "usr:<tenant>:<extension>" -> integer, bumped by
    the binding scripts whenever that device's or user's session starts or
    ends; Kamailio's route cache reuses a lookup's half while its field is
    unchanged (kamailio.cfg route[HOTDESK_CACHED])."""
    return f"{prefix(group)}routegen"


def route_generation_of_device(device_id: str) -> str:
    """A device's field in ``route_generations`` (the scripts' 'dev:'..device)."""
    return f"dev:{device_id}"


def route_generation_of_user(tenant: str, extension: str) -> str:
    """A user's field in ``route_generations`` (the scripts' 'usr:'..tenant..':'..ext)."""
    return f"usr:{tenant}:{extension}"


def events(group: str) -> str:
    """Stream of binding changes in the group."""
    return f"{prefix(group)}events"


def pin(group: str, tenant: str, extension: str) -> str:
    """String: the argon2id hash of the user's PIN."""
    return f"{prefix(group)}pin:{tenant}:{extension}"


def pin_digest(group: str, tenant: str, extension: str) -> str:
    """String: the import's keyed digest of the user's PIN, bound to the
    ``pin`` hash it was written with (services.directory.digest); beside
    it in the group's slot."""
    return f"{prefix(group)}pindigest:{tenant}:{extension}"


def pin_failures_user_device(group: str, tenant: str, extension: str, device_id: str) -> str:
    return f"{prefix(group)}pinfail:ud:{tenant}:{extension}:{device_id}"


def pin_failures_device(group: str, device_id: str) -> str:
    return f"{prefix(group)}pinfail:d:{device_id}"


def audit(group: str) -> str:
    """Stream of PIN attempts and operator actions in the group."""
    return f"{prefix(group)}audit"


def sip_credentials(domain: str, device_id: str) -> str:
    return f"hd:sip:{tag(domain)}:{device_id}"


def profiles(group: str, tenant: str, extension: str) -> str:
    """Hash of a user's phone profiles, one field per vendor/model."""
    return f"{prefix(group)}profiles:{tenant}:{extension}"


def provision_status(group: str, device_id: str) -> str:
    """Hash: what was pushed to a device and what it last fetched."""
    return f"{prefix(group)}prov:{device_id}"


# Secret the provision service signs digest nonces and phone-screen URLs
# with; created once by the first instance, shared by all.
PROVISION_KEY = "hd:{dir}:provision:key"


# Failed file digests (provision-owned): counters that expire with their
# window, one per MAC named in a requested path and one per client address.
# Each is its own hash tag: they are never read together with other keys,
# and an attack's counters spread over the cluster instead of one slot.
def provision_digest_failures_mac(mac: str) -> str:
    """Integer: failed digests for file paths naming ``mac`` (12 lowercase hex digits)."""
    return f"hd:provfail:{tag('mac:' + mac)}"


def provision_digest_failures_ip(address: str) -> str:
    """Integer: failed digests from the client address ``address``."""
    return f"hd:provfail:{tag('ip:' + address)}"


# The admin service's own data (admin-owned): operators, their web sessions
# and API tokens, and its audit stream of sign-ins and token changes. One
# hash tag that is not a valid tenant or group id (those start with a letter
# or digit), so it never shares a tenant group's keys.
ADMIN_GROUP = "_admin"
ADMIN_OPERATORS = f"{prefix(ADMIN_GROUP)}operators"  # set of operator names
ADMIN_TOKENS = f"{prefix(ADMIN_GROUP)}tokens"  # set of API token ids
ADMIN_WEBHOOKS = f"{prefix(ADMIN_GROUP)}webhooks"  # set of webhook ids
# The occupancy report (services.admin.occupancy): closed intervals (sorted
# set, all scores 0, members "<start ms, 16 digits>|<JSON>", read by lex
# range), the sessions seen open (hash device -> JSON), and how far each
# group's event stream was read (hash stream key -> entry id).
ADMIN_OCC_INTERVALS = f"{prefix(ADMIN_GROUP)}occ:intervals"
ADMIN_OCC_OPEN = f"{prefix(ADMIN_GROUP)}occ:open"
ADMIN_OCC_CURSORS = f"{prefix(ADMIN_GROUP)}occ:cursors"
# Webhook deliveries (services.admin.webhook_feed, webhook_delivery): how far
# each group's event stream was fed (hash stream key -> entry id), and the
# deliveries to make (stream of webhook, event, body; consumer group
# "deliver"), each removed once delivered or given up.
ADMIN_WEBHOOK_CURSORS = f"{prefix(ADMIN_GROUP)}wh:cursors"
ADMIN_WEBHOOK_DELIVERIES = f"{prefix(ADMIN_GROUP)}wh:deliveries"


def tracking_barrier(tag: str) -> str:
    """Never written: what ``kernel.tracking`` reads on a cluster node to
    learn whether the node still serves the slot (``tag`` picks one). Named
    as a device key that no device has, so the provision user may read it."""
    return f"hd:{{~{tag}}}:dev:~barrier"


def admin_operator(name: str) -> str:
    """Hash: role, tenants (comma-separated), password (argon2id), created_ms."""
    return f"{prefix(ADMIN_GROUP)}op:{name}"


def admin_session(digest: str) -> str:
    """Hash (expires): operator, csrf; named by the SHA-256 of the cookie."""
    return f"{prefix(ADMIN_GROUP)}session:{digest}"


def admin_token(token_id: str) -> str:
    """Hash: operator, label, digest (SHA-256 of the secret), created_ms."""
    return f"{prefix(ADMIN_GROUP)}token:{token_id}"


def admin_sign_in_failures(name: str) -> str:
    """Integer (expires with its window): failed sign-ins of an operator name."""
    return f"{prefix(ADMIN_GROUP)}signinfail:{name}"


def admin_webhook(webhook_id: str) -> str:
    """Hash: url, tenant ("" all: a platform admin's), operator, created_ms,
    secret (sealed), and the delivery outcome: last_status, last_error,
    last_event, last_attempt_ms, delivered, failed."""
    return f"{prefix(ADMIN_GROUP)}webhook:{webhook_id}"
