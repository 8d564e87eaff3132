"""Reading rendered phone files back the way the phones read them."""

import xml.etree.ElementTree as ET


def yealink_values(text: str) -> dict[str, str]:
    """A Yealink .cfg (``#!version`` line, ``key = value`` lines, # comments);
    no key may appear twice."""
    lines = text.splitlines()
    assert lines[0] == "#!version:1.0.0.1", lines[0]
    values: dict[str, str] = {}
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not a key = value line: {line!r}"
        assert name.strip() not in values, f"{name.strip()} set twice"
        values[name.strip()] = value.strip()
    return values


def snom_values(text: str) -> dict[str, str]:
    """The ``<phone-settings>`` of a Snom XML settings file, an indexed
    setting named ``<name>#<idx>``; none may appear twice."""
    root = ET.fromstring(text)
    assert root.tag == "settings", root.tag
    values: dict[str, str] = {}
    for element in root.findall("phone-settings/*"):
        name = element.tag + (f"#{element.get('idx')}" if element.get("idx") else "")
        assert name not in values, f"{name} set twice"
        values[name] = element.text or ""
    return values


def polycom_values(text: str) -> dict[str, str]:
    """Every parameter of a Polycom XML config (attributes of any element);
    none may appear twice."""
    values: dict[str, str] = {}
    for element in ET.fromstring(text).iter():
        for name, value in element.attrib.items():
            assert name not in values, f"{name} set twice"
            values[name] = value
    return values


# What no user may leave on a shared phone for the next (DND, forwarding,
# feature sync with a server, volumes), as each vendor's files must set it at
# every login and logout. Names from the vendors' administrator guides.
YEALINK_RESET = {
    "bw.feature_key_sync": "0",
    "features.feature_key_sync.enable": "0",
    "features.dnd_mode": "0",
    "features.dnd.enable": "0",
    "account.1.dnd.enable": "0",
    "features.fwd_mode": "0",
    "forward.always.enable": "0",
    "forward.busy.enable": "0",
    "forward.no_answer.enable": "0",
    "account.1.always_fwd.enable": "0",
    "account.1.busy_fwd.enable": "0",
    "account.1.timeout_fwd.enable": "0",
    "voice.ring_vol": "8",
    "voice.handset.spk_vol": "8",
    "voice.handfree.spk_vol": "8",
    "voice.headset.spk_vol": "8",
    # contacts and call history
    "local_contact.data.delete": "*",
    "features.save_call_history": "0",
    "static.auto_provision.custom.protect": "0",
}
POLYCOM_RESET = {
    "voIpProt.SIP.serverFeatureControl.cf": "0",
    "voIpProt.SIP.serverFeatureControl.dnd": "0",
    "voIpProt.SIP.serverFeatureControl.localProcessing.dnd": "0",
    "feature.doNotDisturb.enable": "0",
    "divert.dnd.1.enabled": "0",
    "divert.fwd.1.enabled": "0",
    "divert.busy.1.enabled": "0",
    "divert.noanswer.1.enabled": "0",
    "voice.volume.persist.handset": "0",
    "voice.volume.persist.headset": "0",
    "voice.volume.persist.handsfree": "0",
    "voice.volume.persist.usbHeadset": "0",
    "voice.volume.persist.bluetooth.headset": "0",
    # contacts and call history
    "dir.local.readonly": "1",
    "feature.callList.enabled": "0",
}
SNOM_RESET = {
    "dnd_mode": "off",
    "redirect_event": "none",
    "vol_ringer": "8",
    "vol_handset": "8",
    "vol_speaker": "8",
    "vol_headset": "8",
}
