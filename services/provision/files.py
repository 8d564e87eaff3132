"""Serving phone files: identify the phone, check its credentials for
device files, render, record the fetch. Uploads are refused so that nothing
a previous user changed on the phone (Polycom override files, logs) is kept
and handed to the next one."""

import logging
import time

from aiohttp import web

from services.kernel.logs import fields
from services.provision import metrics
from services.provision.context import CONTEXT, ProvisionContext
from services.provision.devices import DeviceRecord
from services.provision.digest import parse_authorization
from services.provision.identify import Identified, Refused, identify
from services.provision.vendors import VENDORS
from services.provision.vendors.base import Rendered, Vendor
from services.provision.view import build_view

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def _peer(request: web.Request) -> str:
    return request.remote or ""


async def get_file(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    filename = request.match_info["filename"]
    user_agent = request.headers.get("User-Agent", "")
    found = await identify(filename, user_agent, ctx.devices, ctx.clock())
    if isinstance(found, Refused):
        metrics.FETCHES.labels("", "", found.reason).inc()
        log.warning(
            "fetch_refused",
            extra=fields(
                file=filename, reason=found.reason, detail=found.detail, peer=_peer(request)
            ),
        )
        return web.Response(status=404, text="not found\n")
    if found.device is None:
        rendered = found.vendor.render(found.request, None)
        return _served(request, found, rendered, "")
    return await _device_file(request, ctx, found, found.device)


async def _device_file(
    request: web.Request, ctx: ProvisionContext, found: Identified, device: DeviceRecord
) -> web.Response:
    vendor = found.vendor
    outcome = _check_credentials(request, ctx, device)
    if outcome != "ok":
        metrics.FETCHES.labels(vendor.name, "device", outcome).inc()
        log.warning(
            "fetch_unauthorized",
            extra=fields(
                file=found.request.filename, device=device.id, outcome=outcome, peer=_peer(request)
            ),
        )
        if outcome == "no_secret":
            return web.Response(status=404, text="not found\n")
        challenge = ctx.digest.challenge(stale=outcome == "stale_nonce")
        return web.Response(
            status=401, text="unauthorized\n", headers={"WWW-Authenticate": challenge}
        )
    started = time.perf_counter()
    rendered = await render_device(ctx, vendor, found, device)
    metrics.RENDER_SECONDS.labels(vendor.name).observe(time.perf_counter() - started)
    lag = await ctx.status.fetched(device.tenant.group, device.id, device.generation, ctx.clock())
    if lag is not None:
        metrics.LAG_SECONDS.observe(lag)
    return _served(request, found, rendered, device.id, device.generation)


def _check_credentials(request: web.Request, ctx: ProvisionContext, device: DeviceRecord) -> str:
    if not device.secret:
        return "no_secret"
    header = request.headers.get("Authorization")
    if header is None:
        return "unauthorized"
    answer = parse_authorization(header)
    # The credentials must be this device's, for this very request.
    if answer is None or answer.username != device.id or answer.uri != request.raw_path:
        return "denied"
    verdict = ctx.digest.verify(answer, request.method, device.secret)
    return {"ok": "ok", "stale": "stale_nonce"}.get(verdict, "denied")


async def render_device(
    ctx: ProvisionContext, vendor: Vendor, found: Identified, device: DeviceRecord
) -> Rendered:
    spec = vendor.model(device.model)
    profile = None
    if device.user is not None and device.user_tenant is not None:
        profile = await ctx.profiles.get_or_create(
            device.user_tenant, device.user.extension, vendor.name, device.model, ctx.clock()
        )
    view = build_view(device, spec, ctx.site, profile, ctx.links.login_logout(device.id))
    return vendor.render(found.request, view)


def _served(
    request: web.Request, found: Identified, rendered: Rendered, device_id: str, gen: int = 0
) -> web.Response:
    metrics.FETCHES.labels(found.vendor.name, found.request.kind, "served").inc()
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
    metrics.FETCHES.labels(vendor, "upload", "upload_refused").inc()
    log.info("upload_refused", extra=fields(file=filename, vendor=vendor, peer=_peer(request)))
    return web.Response(status=403, text="uploads are not kept\n")
