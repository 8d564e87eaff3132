"""Webhooks through the API: register (the secret shown once), list with
each one's delivery outcome, remove. A tenant admin's webhooks are of its
tenants; one of every tenant is a platform admin's."""

from services.admin.actions import audited
from services.admin.errors import ApiError, not_found
from services.admin.models import (
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookPath,
    WebhookView,
)
from services.admin.operators import Action, Operator, Role
from services.admin.routes import Call, Route
from services.admin.webhooks import Webhook, WebhookStore


def _view(hook: Webhook) -> WebhookView:
    return WebhookView(
        id=hook.id,
        url=hook.url,
        tenant=hook.tenant or None,
        operator=hook.operator,
        created_unix_ms=hook.created_ms,
        last_status=hook.last_status,
        last_error=hook.last_error,
        last_event=hook.last_event,
        last_attempt_unix_ms=hook.last_attempt_ms,
        delivered=hook.delivered,
        failed=hook.failed,
    )


def _sees(operator: Operator, hook: Webhook) -> bool:
    if not hook.tenant:
        return operator.role is Role.PLATFORM_ADMIN
    return operator.sees(hook.tenant)


def _store(call: Call) -> WebhookStore:
    store = call.context.webhooks
    if not store.enabled:
        raise ApiError(503, "webhooks are off here: the admin service has no WEBHOOK_KEY_FILE")
    return store


async def create_webhook(call: Call) -> WebhookCreated:
    store, body = _store(call), call.body_as(WebhookCreate)
    if body.tenant is None and call.who.role is not Role.PLATFORM_ADMIN:
        raise ApiError(400, "tenant: a webhook of every tenant is a platform admin's")
    if body.tenant is not None and (
        not call.who.sees(body.tenant) or body.tenant not in call.context.tenants.by_id
    ):
        raise not_found(f"tenant {body.tenant}")
    secret, hook = await store.create(body.url, body.tenant or "", call.who.name)
    await audited(call.context, call.who, "admin_webhook_created", body.tenant, webhook=hook.id)
    return WebhookCreated(secret=secret, webhook=_view(hook))


async def list_webhooks(call: Call) -> WebhookList:
    hooks = await _store(call).all()
    return WebhookList(items=[_view(h) for h in hooks if _sees(call.who, h)])


async def _webhook(call: Call) -> Webhook:
    webhook_id = call.path_as(WebhookPath).webhook_id
    hook = await _store(call).get(webhook_id)
    if hook is None or not _sees(call.who, hook):
        raise not_found(f"webhook {webhook_id}")
    return hook


async def get_webhook(call: Call) -> WebhookView:
    return _view(await _webhook(call))


async def delete_webhook(call: Call) -> None:
    hook = await _webhook(call)
    await call.context.webhooks.delete(hook.id)
    await audited(
        call.context, call.who, "admin_webhook_deleted", hook.tenant or None, webhook=hook.id
    )


ROUTES = [
    Route(
        "POST",
        "/webhooks",
        create_webhook,
        "Register a webhook of logins and logouts (its secret shown once)",
        "webhooks",
        Action.WEBHOOKS,
        WebhookCreated,
        status=201,
        body=WebhookCreate,
        errors=(404,),
    ),
    Route(
        "GET",
        "/webhooks",
        list_webhooks,
        "Webhooks and how their last delivery went",
        "webhooks",
        Action.WEBHOOKS,
        WebhookList,
    ),
    Route(
        "GET",
        "/webhooks/{webhook_id}",
        get_webhook,
        "A webhook and how its last delivery went",
        "webhooks",
        Action.WEBHOOKS,
        WebhookView,
        path_model=WebhookPath,
    ),
    Route(
        "DELETE",
        "/webhooks/{webhook_id}",
        delete_webhook,
        "Remove a webhook",
        "webhooks",
        Action.WEBHOOKS,
        path_model=WebhookPath,
    ),
]
