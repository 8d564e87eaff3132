"""A tenant's part of the directory, imported by that tenant's admin (or a
platform admin): ``POST /tenants/{tenant}/directory`` with the part in the
file's format. It goes through the directory import itself
(``DirectoryImporter.apply(..., tenant=...)``): one transaction, only that
tenant's entries planned, so another tenant's are never touched; a dry run
returns the diff and writes nothing."""

from redis.asyncio import Redis

from services.admin.actions import audited
from services.admin.errors import ApiError, not_found
from services.admin.models import (
    DirectoryPart,
    ImportChange,
    ImportOutcome,
    ImportQuery,
    TenantPath,
)
from services.admin.operators import Action
from services.admin.routes import Call, Route
from services.directory.importer import ImportReport
from services.directory.load import DirectoryError, parse_directory
from services.directory.lock import ImportConflict
from services.directory.plan import PlanRefused
from services.kernel import keys
from services.kernel.peers import PeerConfig
from services.kernel.records import stored

# The most problems of an invalid part named in the answer.
_PROBLEMS = 20


async def _stored_peers(redis: Redis) -> list[PeerConfig]:
    return [stored(PeerConfig, doc) for doc in (await redis.hgetall(keys.DIR_PEERS)).values()]


def _outcome(report: ImportReport) -> ImportOutcome:
    ending = (
        report.plan.sessions_ending()
        if report.dry_run
        else [f"{b.tenant}/{b.extension} on {b.device_id}" for b in report.sessions_ended]
    )
    return ImportOutcome(
        dry_run=report.dry_run,
        changes=[
            ImportChange(
                action=s.action, kind=s.kind, name=s.name, changes=[str(c) for c in s.changes]
            )
            for s in report.plan.steps
        ],
        sessions_ended=list(ending),
        version=report.version,
    )


async def import_tenant(call: Call) -> ImportOutcome:
    tenant = call.path_as(TenantPath).tenant
    if not call.who.sees(tenant) or tenant not in call.context.tenants.by_id:
        raise not_found(f"tenant {tenant}")
    importer = call.context.importer
    if importer is None:
        raise ApiError(503, "imports are off here: the admin service has no DIRECTORY_REDIS_URL")
    dry_run = call.query_as(ImportQuery).dry_run
    text = call.body_as(DirectoryPart).directory
    try:
        part = parse_directory(
            text, f"tenant {tenant}'s part", await _stored_peers(call.context.redis)
        )
        report = await importer.apply(part, dry_run=dry_run, tenant=tenant)
    except DirectoryError as exc:
        shown = "; ".join(str(p) for p in exc.problems[:_PROBLEMS])
        raise ApiError(400, f"{len(exc.problems)} problem(s): {shown}") from None
    except PlanRefused as exc:
        raise ApiError(400, str(exc)) from None
    except ImportConflict as exc:
        raise ApiError(409, str(exc)) from None
    outcome = _outcome(report)
    if not dry_run:
        await audited(
            call.context,
            call.who,
            "admin_directory_import",
            tenant,
            added=len(report.added),
            changed=len(report.changed),
            removed=len(report.removed),
            version=report.version,
        )
    return outcome


ROUTES = [
    Route(
        "POST",
        "/tenants/{tenant}/directory",
        import_tenant,
        "Import the tenant's part of the directory (dry_run: the diff only)",
        "directory",
        Action.IMPORT,
        ImportOutcome,
        path_model=TenantPath,
        query=ImportQuery,
        body=DirectoryPart,
        errors=(409,),
    ),
]
