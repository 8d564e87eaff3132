"""What a desk phone should show, in no vendor's terms.

``services.provision.view`` builds a ``PhoneView`` from the directory, the
binding and the user's profile; a vendor module (``services.provision.vendors``)
turns it into that vendor's files. Keys are already in order and already
shifted: when a user is logged in, key 1 is Logout and the user's own keys
follow; an idle phone has only the Login key. A vendor writes ``keys`` from
key 1 on and explicitly clears every further key the model has, so nothing of
a previous user's keys survives a resync.
"""

from dataclasses import dataclass
from typing import Literal

from services.kernel.tenants import PhoneSettings

KeyKind = Literal["login", "logout", "blf", "speed_dial"]
# A make and model the tenant gives no settings: the phones' own defaults.
NO_SETTINGS = PhoneSettings()


@dataclass(frozen=True)
class Key:
    """One programmable line key.

    ``login``/``logout``: ``value`` is the XML-browser URL when the model has
    a browser, else the kind is ``speed_dial`` to the feature code instead.
    ``blf``: ``value`` is the monitored extension. ``speed_dial``: digits.
    """

    kind: KeyKind
    value: str
    label: str


@dataclass(frozen=True)
class SipAccount:
    """The device's own account: a hot-desk phone always registers as itself."""

    user: str  # the device id
    password: str  # the device's SIP secret
    domain: str  # the tenant's SIP domain (also the digest realm)
    proxy_host: str  # where the phone sends SIP (the edge)
    proxy_port: int
    transport: Literal["udp", "tcp", "tls"] = "udp"


@dataclass(frozen=True)
class LoggedInUser:
    tenant: str
    extension: str
    name: str
    caller_id: str


@dataclass(frozen=True)
class PhoneView:
    device_id: str
    mac: str  # 12 lowercase hex digits
    vendor: str
    model: str  # as the directory names it, e.g. "T54W", "VVX450"
    account: SipAccount
    user: LoggedInUser | None  # None: idle
    label: str  # line label: "HD hd3001" idle, "1001 Alice Example" logged in
    display_name: str  # the name the phone shows for its line
    keys: tuple[Key, ...]  # key 1 first (see the module docstring)
    key_count: int  # how many line keys the model has (keys beyond len(keys) are cleared)
    emergency_numbers: tuple[str, ...]
    ringer: int  # 1..8: the vendor's n-th built-in ring tone
    provisioning_url: str  # base URL the phone fetches its files from
    resync_seconds: int  # periodic check as a safety net behind check-sync
    generation: int  # the device's binding generation this view was built at
    # The phone's own administrator password (services.provision.admin):
    # never a factory default; never logged.
    admin_password: str
    # The tenant's settings for this make and model (its phone_profiles),
    # idle or logged in alike; a vendor writes those its files can carry.
    settings: PhoneSettings = NO_SETTINGS

    @property
    def logged_in(self) -> bool:
        return self.user is not None
