"""Polycom (Poly) VVX on UC Software: XML configuration files and microbrowser
XHTML pages.

File layout. A VVX first fetches its master configuration file, ``<mac>.cfg``
(or, when there is none, the default master ``000000000000.cfg``): an
``<APPLICATION .../>`` element naming the firmware and, in CONFIG_FILES, the
configuration files to fetch next. Both masters are served as ``common``
files (nothing secret in them; ``<mac>.cfg`` carries the MAC only to name the
next file). CONFIG_FILES names exactly one file, ``<mac>-hotdesk.cfg`` (the
default master says ``[PHONE_MAC_ADDRESS]-hotdesk.cfg``, which the phone
expands): the ``device`` file, with the registration and its secret.

Uploads. A VVX also PUTs files to the provisioning server: override files of
the settings changed on the phone or its web page (``<mac>-phone.cfg``,
``<mac>-web.cfg``), its contacts (``<mac>-directory.xml``), call lists
(``<mac>-calls.xml``) and logs. The master's *_DIRECTORY attributes are empty,
so all of them go to the provisioning root, where the server refuses every
one (``is_upload``); at boot the phone asks for the same names back and gets
nothing, so no user's settings, contacts or calls come back to the phone. The
device file also turns call lists off and makes the local directory
read-only, so there is nothing on the phone to keep.

``<mac>.cfg`` is also the name of a Yealink phone's own file; the User-Agent
tells the two apart (``services.provision.vendors.identify_path``).
"""

import re
from dataclasses import dataclass
from typing import ClassVar

from services.provision.phone import Key, PhoneView
from services.provision.vendors import templating
from services.provision.vendors.base import FileRequest, ModelSpec, Rendered, UserAgent, Vendor


@dataclass(frozen=True)
class _Model:
    line_keys: int
    browser: bool


# Line keys of the phone itself (no expansion modules), the counts Poly gives
# for the VVX models and that public provisioning tools use. The VVX 150 is
# treated as having no microbrowser (not confirmed in Poly's documents: a
# wrong "no" costs only the browser, its Login/Logout being feature-code
# speed dials; a wrong "yes" would leave a dead Login key).
_MODELS = {
    "VVX150": _Model(2, browser=False),
    "VVX250": _Model(4, browser=True),
    "VVX300": _Model(6, browser=True),
    "VVX310": _Model(6, browser=True),
    "VVX350": _Model(6, browser=True),
    "VVX400": _Model(12, browser=True),
    "VVX410": _Model(12, browser=True),
    "VVX411": _Model(12, browser=True),
    "VVX450": _Model(12, browser=True),
    "VVX500": _Model(12, browser=True),
    "VVX501": _Model(12, browser=True),
    "VVX600": _Model(16, browser=True),
    "VVX601": _Model(16, browser=True),
}
# An unknown model: no microbrowser assumed, and as many keys as the largest
# model so that every key a previous user may have had is cleared.
_DEFAULT = _Model(max(model.line_keys for model in _MODELS.values()), browser=False)

_NO_MAC = "000000000000"
_MASTER = re.compile(r"(?P<mac>[0-9a-fA-F]{12})\.cfg")
_DEVICE = re.compile(r"(?P<mac>[0-9a-fA-F]{12})-hotdesk\.cfg")
_UPLOAD = re.compile(
    r"[0-9a-fA-F]{12}-(phone\.cfg|web\.cfg|directory\.xml|calls\.xml|app\.log|boot\.log)"
)
# "FileTransport PolycomVVX-VVX_450-UA/6.4.0.1234 (SN:0004f2aa3003)
# Type/Application" when provisioning (the SN part is the MAC; older
# firmware leaves it out, and the SIP User-Agent has no FileTransport).
_USER_AGENT = re.compile(
    r"(?:FileTransport\s+)?Polycom\w*-(?P<model>[A-Za-z]+_?\d+\w*?)-UA/\d+(?:\.\d+)*"
    r"(?:\s+\(SN:(?P<mac>[0-9A-Fa-f]{12})\))?(?:\s+Type/\w+)?\s*"
)

_TRANSPORTS = {"udp": "UDPOnly", "tcp": "TCPOnly", "tls": "TLS"}
# An EFK action string is a small macro language ($...$ fields, ! and ^
# prefixes): a speed dial's digits and a URL must not bring any of it.
_DIAL_STRING = re.compile(r"[0-9*#+]+")
_MACRO_CHARACTERS = re.compile(r"[$!^]")
_XML = "application/xml; charset=utf-8"
_XHTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class _LineKey:
    """lineKey.N and efk.efklist.N, the macro of an EFK key (a BLF key's
    label is its attendant.resourceList entry's)."""

    number: int
    category: str  # "EFK", "BLF" or "Unassigned"
    label: str  # the EFK label ("" unless EFK)
    action: str  # the EFK action string ("" unless EFK)


@dataclass(frozen=True)
class _Resource:
    number: int
    address: str
    label: str


def _action(key: Key) -> str:
    """The EFK action string of a key: a URL opens in the microbrowser, digits
    followed by $Tinvite$ are dialled (UC Software admin guide, "Macro
    Actions")."""
    if key.kind == "speed_dial":
        if not _DIAL_STRING.fullmatch(key.value):
            raise ValueError(f"speed dial {key.value!r} is not a dial string")
        return f"{key.value}$Tinvite$"
    if _MACRO_CHARACTERS.search(key.value):
        raise ValueError(f"{key.kind} URL {key.value!r} has an EFK macro character")
    return key.value


def _line_keys(keys: tuple[Key, ...], key_count: int) -> tuple[list[_LineKey], list[_Resource]]:
    """Every line key up to ``key_count`` and every attendant resource up to
    the same count: the view's keys, the rest unassigned and emptied."""
    if len(keys) > key_count:
        raise ValueError(f"{len(keys)} keys for a phone with {key_count}")
    line_keys: list[_LineKey] = []
    resources: list[_Resource] = []
    for number, key in enumerate(keys, start=1):
        if key.kind == "blf":
            resources.append(_Resource(len(resources) + 1, key.value, key.label))
            line_keys.append(_LineKey(number, "BLF", "", ""))
        else:
            line_keys.append(_LineKey(number, "EFK", key.label, _action(key)))
    line_keys += [_LineKey(n, "Unassigned", "", "") for n in range(len(keys) + 1, key_count + 1)]
    resources += [_Resource(n, "", "") for n in range(len(resources) + 1, key_count + 1)]
    return line_keys, resources


class Polycom(Vendor):
    name: ClassVar[str] = "polycom"
    # UC Software documents "check-sync" and, with
    # voIpProt.SIP.specialEvent.checkSync.alwaysReboot="0" (device file), the
    # phone re-fetches its files and reboots only when that is needed to
    # apply them. No Polycom document describes a "reboot=false" parameter,
    # so none is sent.
    check_sync_event: ClassVar[str] = "check-sync"
    # The microbrowser's XHTML forms post (method="post").
    screen_forms: ClassVar[bool] = True

    def __init__(self) -> None:
        env = templating.environment(self.name)
        self._master = env.get_template("master.xml.j2")
        self._device = env.get_template("device.xml.j2")
        self.pages = templating.BrowserPages(env, "xhtml", _XHTML)

    def model(self, name: str) -> ModelSpec:
        model = _MODELS.get(name, _DEFAULT)
        return ModelSpec(name, model.line_keys, model.browser)

    def parse_path(self, filename: str) -> FileRequest | None:
        if master := _MASTER.fullmatch(filename):
            mac = master["mac"].lower()
            return FileRequest("common", filename, None if mac == _NO_MAC else mac)
        device = _DEVICE.fullmatch(filename)
        if device and device["mac"] != _NO_MAC:
            return FileRequest("device", filename, device["mac"].lower())
        return None

    def parse_user_agent(self, user_agent: str) -> UserAgent | None:
        match = _USER_AGENT.fullmatch(user_agent.strip())
        if match is None:
            return None
        mac = match["mac"].lower() if match["mac"] else None
        return UserAgent(match["model"].replace("_", "").upper(), mac)

    def is_upload(self, filename: str) -> bool:
        return _UPLOAD.fullmatch(filename) is not None

    def render(self, request: FileRequest, view: PhoneView | None) -> Rendered:
        if request.kind == "common":
            device_file = f"{request.mac or '[PHONE_MAC_ADDRESS]'}-hotdesk.cfg"
            return templating.render(self._master, _XML, device_file=device_file)
        if view is None or view.mac != request.mac:
            raise ValueError(f"{request.filename} needs the view of the phone {request.mac}")
        line_keys, resources = _line_keys(view.keys, view.key_count)
        return templating.render(
            self._device,
            _XML,
            view=view,
            line_keys=line_keys,
            resources=resources,
            transport=_TRANSPORTS[view.account.transport],
            # Relative polling takes a period of at least an hour (admin
            # guide, "Provisional Polling of Polycom Phones").
            polling_seconds=max(3600, view.resync_seconds),
            # ringer1 is the silent ring; the n-th ring tone is ringer<n+1>.
            ringer=f"ringer{view.ringer + 1}",
        )
