"""Yealink T4x/T5x: ``key = value`` configuration files and XML-browser
objects.

A Yealink phone fetches its model's common file ``y0000000000XX.cfg`` (XX:
the firmware's model id, e.g. ``y000000000096.cfg`` for T5xW) and then its own
``<mac>.cfg``; the latter overrides the former. Both carry the same
provisioning policy (``policy.cfg.j2``), so neither file alone can leave the
phone keeping a previous user's data.
"""

import re
from dataclasses import dataclass
from math import ceil
from typing import ClassVar

from services.provision.phone import Key, KeyKind, PhoneView
from services.provision.vendors import templating
from services.provision.vendors.base import FileRequest, ModelSpec, Rendered, UserAgent, Vendor

# Programmable line keys (DSS keys over all pages), the counts Yealink gives
# for T4xS/T4xU and T5x and that public provisioning tools use; to check
# against the data sheet when a model is added.
_LINE_KEYS = {
    "T41S": 15,
    "T41U": 15,
    "T42S": 15,
    "T42U": 15,
    "T46S": 27,
    "T46U": 27,
    "T48S": 29,
    "T48U": 29,
    "T53": 21,
    "T53W": 21,
    "T54S": 27,
    "T54W": 27,
    "T57W": 29,
    "T58": 27,
    "T58W": 27,
}
# An unknown model: no XML browser assumed (Login/Logout become feature-code
# speed dials, which every model has) and as many keys as the largest model,
# so every key a previous user may have had is cleared (a phone ignores the
# settings of keys it does not have).
_DEFAULT_LINE_KEYS = max(_LINE_KEYS.values())

# linekey.N.type (Yealink administrator guide, "DSS Keys"): 0 N/A, 13 Speed
# Dial, 16 BLF, 27 XML Browser.
_KEY_TYPES: dict[KeyKind, int] = {"login": 27, "logout": 27, "blf": 16, "speed_dial": 13}
_CLEARED = 0
# account.X.sip_server.Y.transport_type: 0 UDP, 1 TCP, 2 TLS.
_TRANSPORTS = {"udp": 0, "tcp": 1, "tls": 2}

_COMMON = re.compile(r"y\d{12}\.cfg")
_DEVICE = re.compile(r"(?P<mac>[0-9a-fA-F]{12})\.cfg")
# What a phone uploads when told to (we tell it not to; see policy.cfg.j2):
# its personal settings (custom.sync), contact and call-log backups, logs.
_UPLOAD = re.compile(r"[0-9a-fA-F]{12}-(local\.cfg|contact\.xml|calllog\.xml|boot\.log|sys\.log)")
# The provisioning User-Agent, e.g. "Yealink SIP-T54W 96.86.0.100
# 00:15:65:aa:30:01": model, firmware and (static.auto_provision.
# user_agent_mac.enable, set by policy.cfg.j2) the MAC.
_USER_AGENT = re.compile(
    r"Yealink\s+SIP(?:-|\s+VP-)(?P<model>[A-Za-z0-9]+(?:_[A-Za-z0-9]+)?)"
    r"\s+\d+(?:\.\d+)+(?:\s+(?P<mac>[0-9A-Fa-f:\-]{12,17}))?\s*",
    re.IGNORECASE,
)

_CFG = "text/plain; charset=utf-8"
_XML = "text/xml; charset=utf-8"
# An empty value leaves a Yealink setting as it was; %NULL% empties it.
_EMPTY = "%NULL%"


def _mac(text: str) -> str | None:
    """12 lowercase hex digits from a MAC written with or without ``:``/``-``."""
    digits = re.sub(r"[:\-]", "", text)
    return digits.lower() if re.fullmatch(r"[0-9a-fA-F]{12}", digits) else None


def _cfg(value: object) -> object:
    return _EMPTY if value == "" else value


@dataclass(frozen=True)
class _LineKey:
    number: int
    type: int
    value: str
    label: str
    line: str  # the account a key belongs to ("" for a cleared key)


def _line_keys(keys: tuple[Key, ...], key_count: int) -> list[_LineKey]:
    if len(keys) > key_count:
        raise ValueError(f"{len(keys)} keys for a phone with {key_count}")
    used = [
        _LineKey(number, _KEY_TYPES[key.kind], key.value, key.label, "1")
        for number, key in enumerate(keys, start=1)
    ]
    cleared = [
        _LineKey(number, _CLEARED, "", "", "") for number in range(len(keys) + 1, key_count + 1)
    ]
    return used + cleared


class Yealink(Vendor):
    name: ClassVar[str] = "yealink"
    # check-sync re-provisions; with sip.notify_reboot_enable = 0 the phone
    # reboots only for "reboot=true" (administrator guide, "Rebooting
    # Issues"), and the explicit "reboot=false" says so to any reader.
    check_sync_event: ClassVar[str] = "check-sync;reboot=false"
    # The XML browser's InputScreen appends its fields to <URL> as a query
    # (a GET); Yealink's XML Browser guide names no way to post them. A PIN
    # must not travel in a URL, so Yealink phones get feature-code Login and
    # Logout keys (the voice menu asks the PIN). Set this only for firmware
    # shown to post the InputScreen, with the template changed to match.
    screen_forms: ClassVar[bool] = False

    def __init__(self) -> None:
        env = templating.environment(self.name, filters={"cfg": _cfg})
        self._common = env.get_template("common.cfg.j2")
        self._device = env.get_template("device.cfg.j2")
        self.pages = templating.BrowserPages(env, "xml", _XML)

    def model(self, name: str) -> ModelSpec:
        line_keys = _LINE_KEYS.get(name)
        if line_keys is None:
            return ModelSpec(name, _DEFAULT_LINE_KEYS, browser=False)
        return ModelSpec(name, line_keys, browser=True)

    def parse_path(self, filename: str) -> FileRequest | None:
        if _COMMON.fullmatch(filename):
            return FileRequest("common", filename, None)
        device = _DEVICE.fullmatch(filename)
        # 000000000000.cfg is no device: it is Polycom's default master file.
        if device and device["mac"] != "000000000000":
            return FileRequest("device", filename, device["mac"].lower())
        return None

    def parse_user_agent(self, user_agent: str) -> UserAgent | None:
        match = _USER_AGENT.fullmatch(user_agent.strip())
        if match is None:
            return None
        mac = _mac(match["mac"]) if match["mac"] else None
        return UserAgent(match["model"].upper(), mac)

    def is_upload(self, filename: str) -> bool:
        return _UPLOAD.fullmatch(filename) is not None

    def render(self, request: FileRequest, view: PhoneView | None) -> Rendered:
        if request.kind == "common":
            return templating.render(self._common, _CFG)
        if view is None or view.mac != request.mac:
            raise ValueError(f"{request.filename} needs the view of the phone {request.mac}")
        return templating.render(
            self._device,
            _CFG,
            view=view,
            keys=_line_keys(view.keys, view.key_count),
            transport=_TRANSPORTS[view.account.transport],
            resync_minutes=max(1, ceil(view.resync_seconds / 60)),
        )
