"""Device SIP credentials in the form Kamailio's digest auth uses.

HA1 = MD5(username:realm:password); HA1B = MD5(username@domain:realm:password)
(the variant for clients that put the domain into the username). MD5 is what
SIP digest (RFC 2617/3261) requires; it is not used as a password store here.
"""

import hashlib

from services.kernel.secretbox import SecretBox, sip_secret_context


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def sip_ha1(username: str, realm: str, secret: str) -> str:
    return _md5(f"{username}:{realm}:{secret}")


def sip_ha1b(username: str, domain: str, realm: str, secret: str) -> str:
    return _md5(f"{username}@{domain}:{realm}:{secret}")


def credential_fields(device_id: str, domain: str, secret: str, box: SecretBox) -> dict[str, str]:
    """The hash stored at ``keys.sip_credentials(domain, device_id)``; the
    realm is the tenant's SIP domain. The secret itself only sealed (the
    phone's file carries it; nothing else needs it)."""
    return {
        "ha1": sip_ha1(device_id, domain, secret),
        "ha1b": sip_ha1b(device_id, domain, domain, secret),
        "secret_sealed": box.seal(secret, sip_secret_context(domain, device_id)),
    }


# A replaced SIP secret stays valid for a grace window (the phone learns the
# new one from its next file, which it fetches with the old one): its HA1
# for Kamailio, its sealed copy for the provision service's digest, and
# until when (Unix seconds).
PREVIOUS_HA1, PREVIOUS_SEALED, PREVIOUS_UNTIL = "ha1_prev", "secret_prev_sealed", "prev_until"


def previous_credential_fields(ha1: str, sealed: str, until_s: int) -> dict[str, str]:
    """What keeps a replaced secret (its stored HA1 and sealed copy) valid
    until ``until_s``."""
    return {PREVIOUS_HA1: ha1, PREVIOUS_SEALED: sealed, PREVIOUS_UNTIL: str(until_s)}


def peer_credential_fields(peer: str, username: str, domain: str, password: str) -> dict[str, str]:
    """The hash of a registering peer at ``keys.sip_credentials(domain,
    username)``: what Kamailio checks its REGISTER against, and whose peer
    it is. No password: nothing but the digest needs it."""
    return {
        "ha1": sip_ha1(username, domain, password),
        "ha1b": sip_ha1b(username, domain, domain, password),
        "peer": peer,
    }
