"""Snom D-series: XML settings files (``<settings>`` with ``<phone-settings>``,
``<functionKeys>`` and ``<tbook>``) and XML minibrowser objects.

A Snom phone fetches the URL in its ``setting_server`` setting, in which it
replaces ``{mac}`` with its MAC; this server's is ``<base>/snom-{mac}.xml``
(set once by DHCP option 66/67 or Snom's redirection service, and written
into every file again). There is no common file: everything is in the
device's own file, which carries the SIP secret.

The minibrowser's ``SnomIPPhoneInput`` asks one value per screen and puts it
into the next URL it fetches (a GET): a PIN would travel in a URL, so Snom
phones get no phone-screen pages (``screen_forms``); their Login and Logout
keys dial the tenant's feature codes, and the voice menu asks the PIN.
"""

import re
from dataclasses import dataclass
from typing import ClassVar

from services.provision.phone import Key, PhoneView
from services.provision.vendors import templating
from services.provision.vendors.base import FileRequest, ModelSpec, Rendered, UserAgent, Vendor

# Programmable function keys over all pages of the phone itself (no
# expansion modules), as Snom's data sheets give them; to check against the
# data sheet when a model is added.
_FUNCTION_KEYS = {
    "D717": 18,
    "D735": 32,
    "D785": 24,
    "D385": 48,
}
# An unknown model: as many keys as the largest, so every key a previous
# user may have had is cleared.
_DEFAULT_FUNCTION_KEYS = max(_FUNCTION_KEYS.values())

_DEVICE = re.compile(r"snom-(?P<mac>[0-9a-fA-F]{12})\.xml")
# "Mozilla/4.0 (compatible; snomD785-SIP 10.1.54.13 ...)": model and
# firmware; the MAC is not in it.
_USER_AGENT = re.compile(r"\bsnom(?P<model>[A-Za-z]?\d{3}[A-Za-z]?)-SIP\s+\d+(?:\.\d+)+")
_XML = "text/xml; charset=utf-8"
_TRANSPORTS = {"udp": "udp", "tcp": "tcp", "tls": "tls"}
_DIAL_STRING = re.compile(r"[0-9*#+]+")


@dataclass(frozen=True)
class _FunctionKey:
    idx: int  # Snom numbers function keys from 0
    label: str
    action: str  # "speed <digits>", "blf <sip:...>", "url <...>" or "none"


def _action(key: Key, domain: str) -> str:
    """A key's fkey value ("type argument", Snom's function key types)."""
    if key.kind == "blf":
        return f"blf <sip:{key.value}@{domain}>"
    if key.kind == "speed_dial":
        if not _DIAL_STRING.fullmatch(key.value):
            raise ValueError(f"speed dial {key.value!r} is not a dial string")
        return f"speed {key.value}"
    return f"url {key.value}"  # login/logout pages (not given to Snom: no screen_forms)


def _function_keys(view: PhoneView) -> list[_FunctionKey]:
    if len(view.keys) > view.key_count:
        raise ValueError(f"{len(view.keys)} keys for a phone with {view.key_count}")
    used = [
        _FunctionKey(n, key.label, _action(key, view.account.domain))
        for n, key in enumerate(view.keys)
    ]
    cleared = [_FunctionKey(n, "", "none") for n in range(len(view.keys), view.key_count)]
    return used + cleared


class Snom(Vendor):
    name: ClassVar[str] = "snom"
    # checksync_action "sync" (set in every file) makes a check-sync reload
    # the settings without a reboot (Snom wiki, "checksync_action", firmware
    # 10.1.180 and later); "reboot=false" says so to older firmware too.
    check_sync_event: ClassVar[str] = "check-sync;reboot=false"
    screen_forms: ClassVar[bool] = False

    def __init__(self) -> None:
        env = templating.environment(self.name)
        self._device = env.get_template("device.xml.j2")
        self.pages = templating.BrowserPages(env, "xml", _XML)

    def model(self, name: str) -> ModelSpec:
        keys = _FUNCTION_KEYS.get(name, _DEFAULT_FUNCTION_KEYS)
        # The minibrowser is there, but its forms GET (see screen_forms):
        # Login/Logout are feature-code speed dials either way.
        return ModelSpec(name, keys, browser=False)

    def parse_path(self, filename: str) -> FileRequest | None:
        device = _DEVICE.fullmatch(filename)
        if device and device["mac"] != "000000000000":
            return FileRequest("device", filename, device["mac"].lower())
        return None

    def parse_user_agent(self, user_agent: str) -> UserAgent | None:
        match = _USER_AGENT.search(user_agent)
        return None if match is None else UserAgent(match["model"].upper(), None)

    def render(self, request: FileRequest, view: PhoneView | None) -> Rendered:
        if view is None or view.mac != request.mac:
            raise ValueError(f"{request.filename} needs the view of the phone {request.mac}")
        return templating.render(
            self._device,
            _XML,
            view=view,
            function_keys=_function_keys(view),
            transport=_TRANSPORTS[view.account.transport],
            setting_server=f"{view.provisioning_url.rstrip('/')}/snom-{{mac}}.xml",
            refresh_seconds=max(60, view.resync_seconds),
        )
