"""Serving phone files. A file named for a MAC needs the digest credentials
of the device with that MAC: until they are valid, every such request gets
the same challenge, whether the MAC is known or not (nothing is looked up
before), and failed digests are counted per MAC and per client address.
Then the phone is identified (``identify``), the file rendered and the fetch
recorded. Files named for no MAC carry nothing secret. Uploads are refused
so that nothing a previous user changed on the phone (Polycom override
files, logs) is kept and handed to the next one."""

import logging
import time

from aiohttp import web

from services.kernel.logs import fields
from services.provision import metrics
from services.provision.context import CONTEXT, ProvisionContext
from services.provision.devices import DeviceFile, DeviceRecord
from services.provision.digest import DigestResponse
from services.provision.fileauth import NotAuthenticated, authenticate, credentials
from services.provision.identify import (
    Identified,
    Refused,
    identify_common,
    identify_device,
    labels,
    mac_in_path,
)
from services.provision.profiles import Profile
from services.provision.vendors import VENDORS
from services.provision.vendors.base import Rendered, Vendor
from services.provision.vendors.templating import TEMPLATE_VERSION
from services.provision.view import build_view

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def _peer(request: web.Request) -> str:
    return request.remote or ""


def _not_found() -> web.Response:
    return web.Response(status=404, text="not found\n")


def _refused(request: web.Request, vendor: str, kind: str, refused: Refused) -> web.Response:
    metrics.fetched(vendor, kind, refused.reason).inc()
    log.warning(
        "fetch_refused",
        extra=fields(
            file=request.match_info["filename"],
            reason=refused.reason,
            detail=refused.detail,
            peer=_peer(request),
        ),
    )
    return _not_found()


async def get_file(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    filename = request.match_info["filename"]
    user_agent = request.headers.get("User-Agent", "")
    mac = mac_in_path(filename)
    if mac is None:
        found = identify_common(filename, user_agent)
        if isinstance(found, Refused):
            return _refused(request, "", "", found)
        return _served(request, found, found.vendor.render(found.request, None), "")
    # Labels only (the file name and User-Agent, nothing looked up).
    vendor, kind = labels(filename, user_agent)
    answer = credentials(request)
    claimed_id = answer.username if isinstance(answer, DigestResponse) else None
    limited, read = await ctx.devices.for_fetch(
        ctx.failures, mac, _peer(request), claimed_id, ctx.clock()
    )
    if limited is not None:
        outcome = f"rate_limited_{limited.scope}"
        metrics.fetched(vendor, kind, outcome).inc()
        log.warning(
            "fetch_rate_limited",
            extra=fields(file=filename, limit=limited.scope, peer=_peer(request)),
        )
        return web.Response(
            status=429,
            text="too many failed attempts\n",
            headers={"Retry-After": str(limited.retry_after)},
        )
    if isinstance(answer, NotAuthenticated):
        return await _challenge(request, ctx, mac, vendor, kind, answer)
    assert read is not None  # read for the id the answer claims
    proof = authenticate(request, ctx.digest, answer, read.passwords)
    if isinstance(proof, NotAuthenticated):
        return await _challenge(request, ctx, mac, vendor, kind, proof)
    device = read.device
    assert device is not None  # only a device has passwords
    found = identify_device(filename, user_agent, device)
    if isinstance(found, Refused):
        return _refused(request, vendor, kind, found)
    if found.device is None:  # a file named for the MAC but with nothing secret
        return _served(request, found, found.vendor.render(found.request, None), "")
    return await _device_file(request, ctx, found, read)


async def _challenge(
    request: web.Request,
    ctx: ProvisionContext,
    mac: str,
    vendor: str,
    kind: str,
    proof: NotAuthenticated,
) -> web.Response:
    """The one answer to every file request named for a MAC without valid
    credentials (the outcome goes to the log and the metric only)."""
    if proof.failed:
        await ctx.failures.failed(mac, _peer(request))
    metrics.fetched(vendor, kind, proof.outcome).inc()
    log.warning(
        "fetch_unauthorized",
        extra=fields(
            file=request.match_info["filename"],
            user=proof.username or None,
            outcome=proof.outcome,
            peer=_peer(request),
        ),
    )
    challenge = ctx.digest.challenge(stale=proof.outcome == "stale_nonce")
    return web.Response(status=401, text="unauthorized\n", headers={"WWW-Authenticate": challenge})


async def _device_file(
    request: web.Request, ctx: ProvisionContext, found: Identified, read: DeviceFile
) -> web.Response:
    """The device's file, from the render cache when it holds the file made
    of what this fetch read; the fetch recorded when it is the first of the
    device's generation (after the digest: only the device marks its file
    fetched)."""
    device = found.device
    assert device is not None
    vendor = found.vendor
    key = (device.id, found.request.filename, device.generation, TEMPLATE_VERSION)
    inputs = (device, found.request, read.profile)
    rendered = ctx.renders.get(key, inputs)
    if rendered is None:
        started = time.perf_counter()
        rendered = await render_device(ctx, vendor, found, device, read.profile)
        metrics.RENDER_SECONDS.labels(vendor.name).observe(time.perf_counter() - started)
        ctx.renders.put(key, inputs, rendered)
    if read.fetched_generation < device.generation:
        group, now = device.tenant.group, ctx.clock()
        lag = await ctx.status.fetched(group, device.id, device.generation, now)
        ctx.devices.fetched(device.id, device.generation)
        if lag is not None:
            metrics.LAG_SECONDS.observe(lag)
    return _served(request, found, rendered, device.id, device.generation)


async def render_device(
    ctx: ProvisionContext, vendor: Vendor, found: Identified, device: DeviceRecord, profile: str
) -> Rendered:
    """``profile``: the user's stored profile JSON for the model, "" for
    none yet (created from the tenant's default now)."""
    spec = vendor.model(device.model)
    user_profile = None
    if device.user is not None and device.user_tenant is not None:
        user_profile = (
            Profile.model_validate_json(profile)
            if profile
            else await ctx.profiles.get_or_create(
                device.user_tenant, device.user.extension, vendor.name, device.model, ctx.clock()
            )
        )
    screen = (
        ctx.links.login_logout(device.id, device.generation, ctx.clock())
        if vendor.screen_forms
        else None
    )
    view = build_view(device, spec, ctx.site, user_profile, screen, ctx.admin_password(device.id))
    return vendor.render(found.request, view)


def _served(
    request: web.Request, found: Identified, rendered: Rendered, device_id: str, gen: int = 0
) -> web.Response:
    metrics.fetched(found.vendor.name, found.request.kind, "served").inc()
    log.info(
        "fetch_served",
        extra=fields(
            file=found.request.filename,
            vendor=found.vendor.name,
            device=device_id or None,
            generation=gen if device_id else None,
            peer=_peer(request),
        ),
    )
    return web.Response(
        body=rendered.body, headers={"Content-Type": rendered.content_type, **_NO_STORE}
    )


async def refuse_upload(request: web.Request) -> web.Response:
    filename = request.match_info["filename"]
    # Which vendor's phones upload a file of this name (override files,
    # contact and call-log backups, logs), for the log and the metric.
    vendor = next((v.name for v in VENDORS.values() if v.is_upload(filename)), "")
    metrics.fetched(vendor, "upload", "upload_refused").inc()
    log.info("upload_refused", extra=fields(file=filename, vendor=vendor, peer=_peer(request)))
    return web.Response(status=403, text="uploads are not kept\n")
