"""From a device record and the user's profile to the ``PhoneView`` a vendor
renders: labels, the Login/Logout key on key 1, the user's keys after it."""

from dataclasses import dataclass

from services.kernel.tenants import ProfileKey
from services.provision.devices import DeviceRecord
from services.provision.phone import Key, PhoneView, SipAccount
from services.provision.profiles import Profile
from services.provision.vendors.base import ModelSpec


@dataclass(frozen=True)
class PhoneSite:
    """Where phones reach things: SIP proxy, this server, the resync period."""

    proxy_host: str
    proxy_port: int
    provisioning_url: str
    resync_seconds: int


def idle_label(device_id: str) -> str:
    return f"HD {device_id}"


def _user_key(key: ProfileKey) -> Key:
    return Key(kind=key.kind, value=key.value, label=key.label)


def build_view(
    device: DeviceRecord,
    spec: ModelSpec,
    site: PhoneSite,
    profile: Profile | None,
    screen_urls: tuple[str, str] | None,
    admin_password: str,
) -> PhoneView:
    """``profile`` is the logged-in user's for this model (None when idle);
    ``screen_urls`` the device's phone-screen (login, logout) pages, None
    when the phone cannot use them (its Login/Logout keys then dial the
    tenant's feature codes, as on a model without a browser)."""
    screen = screen_urls if spec.browser else None
    codes = device.tenant.feature_codes
    keys: tuple[Key, ...]
    if device.user is not None and profile is not None:
        user = device.user
        logout = (
            Key("logout", screen[1], "Logout")
            if screen is not None
            else Key("speed_dial", codes.logout, "Logout")
        )
        own = tuple(_user_key(k) for k in profile.keys[: max(0, spec.line_keys - 1)])
        keys = (logout, *own)
        label, display = f"{user.extension} {user.name}", user.name
        ringer = profile.ringer
    else:
        user = None
        login = (
            Key("login", screen[0], "Login")
            if screen is not None
            else Key("speed_dial", codes.login, "Login")
        )
        keys = (login,) if device.hotdesk else ()
        label = display = idle_label(device.id)
        ringer = 1
    return PhoneView(
        device_id=device.id,
        mac=device.mac,
        vendor=device.vendor,
        model=device.model,
        account=SipAccount(
            user=device.id,
            password=device.secret,
            domain=device.tenant.domain,
            proxy_host=site.proxy_host,
            proxy_port=site.proxy_port,
        ),
        user=user,
        label=label,
        display_name=display,
        keys=keys,
        key_count=spec.line_keys,
        emergency_numbers=device.tenant.emergency_numbers,
        ringer=ringer,
        provisioning_url=site.provisioning_url,
        resync_seconds=site.resync_seconds,
        generation=device.generation,
        admin_password=admin_password,
        settings=device.tenant.model_settings(device.vendor, device.model),
    )
