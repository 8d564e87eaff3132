"""Each phone's own administrator password (its web page and its settings
menu), written into every device file so that no phone keeps the vendor's
factory default, with which anyone at the desk could read the SIP secret or
repoint keys at a page of their own.

The password is derived, never stored: an HMAC of the device id under the
provision key (``keys.PROVISION_KEY``), so every instance writes the same one
and rotating that key rotates every phone's password at its next fetch.
It is never logged. An operator who needs one (to open a phone's web page)
derives it with ``read_admin_password`` (see docs/security/provisioning.md).
"""

import base64
import hashlib
import hmac

from redis.asyncio import Redis

from services.kernel import keys

# 20 characters of base32 (A-Z, 2-7), lowercased: 100 bits, no character
# that a Yealink "user:password" value or an XML attribute would treat
# specially, short enough for both vendors' password fields.
LENGTH = 20


def admin_password(key: bytes, device_id: str) -> str:
    digest = hmac.new(key, b"admin-password|" + device_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:LENGTH].lower()


async def read_admin_password(redis: Redis, device_id: str) -> str | None:
    """The admin password the provision service gives ``device_id``'s phone
    (None if the directory has no such device or no provision key exists
    yet, i.e. the service never ran). For operators; reads the provision key
    from Redis, so it needs the provision service's Redis credentials."""
    if not await redis.hexists(keys.DIR_DEVICES, device_id):
        return None
    key = await redis.get(keys.PROVISION_KEY)
    return admin_password(bytes.fromhex(key), device_id) if key else None
