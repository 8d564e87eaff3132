"""Importing a validated directory: the file becomes the full truth.

One attempt: WATCH the directory version, read what Redis holds, plan, end
the sessions of users and devices that leave, WATCH their hashes too, then
write everything in one MULTI/EXEC that increments the version. If another
import (or a login on a leaving entry) got in between, EXEC fails, nothing
of this attempt is written, and the import starts over from a fresh read,
so that two imports never interleave; after ``attempts`` tries it gives up.
PIN digests written alone (for PINs that did not change) are no new version.

A Redis Cluster cannot run one transaction over every slot: there the
import writes one transaction per slot under an import lock (see
``_attempt_per_slot``).
"""

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from hotdesk.v1 import binding_pb2 as pb
from redis.asyncio import Redis
from redis.exceptions import WatchError

from services.auth.pins import PinHasher
from services.binding.core import BindingCore
from services.directory.apply import (
    Leaving,
    SecretRotation,
    end_sessions,
    queue_writes,
    stale_lockout_counters,
    watch_leaving,
)
from services.directory.digest import PinDigester
from services.directory.hashing import PinWork
from services.directory.lock import ImportConflict, import_lock
from services.directory.model import Directory
from services.directory.plan import Plan, PlanRefused, Step, make_plan
from services.directory.scope import tenant_part
from services.directory.slots import SlotBatches
from services.directory.state import read_stored
from services.kernel import keys
from services.kernel.logs import fields
from services.kernel.records import SCHEMA_VERSION
from services.kernel.redis_conn import is_cluster
from services.kernel.secretbox import SecretBox
from services.kernel.tenants import TenantCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    plan: Plan
    version: int  # the directory version after the import
    sessions_ended: tuple[pb.Binding, ...]
    dry_run: bool
    # argon2 verifications the PIN checks ran (PINs without a matching
    # digest), and PINs found unchanged by their digest alone.
    pin_verifies: int = 0
    pin_digest_matches: int = 0

    def _of(self, action: str) -> list[Step[Any, Any]]:
        return [s for s in self.plan.steps if s.action == action]

    @property
    def added(self) -> list[Step[Any, Any]]:
        return self._of("add")

    @property
    def changed(self) -> list[Step[Any, Any]]:
        return self._of("change")

    @property
    def removed(self) -> list[Step[Any, Any]]:
        return self._of("remove")

    @property
    def unchanged(self) -> bool:
        """Whether Redis holds the same directory (PIN digests aside)."""
        return not self.plan.changes_directory

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"

    def lines(self) -> list[str]:
        """What an operator reads: one line per entry, the sessions ended
        (or, in a dry run, that would end), and the counts. No secrets."""
        out = [str(step) for step in self.plan.steps]
        digests = len(self.plan.pin_digests)
        if self.dry_run:
            out += [f"  would log out {s}" for s in self.plan.sessions_ending()]
            if digests:
                out.append(f"would record the PIN digest of {digests} unchanged PIN(s)")
            out.append(f"dry run, nothing written: {self.summary()}")
        else:
            out += [
                f"  logged out {b.tenant}/{b.extension} on {b.device_id}"
                for b in self.sessions_ended
            ]
            if digests:
                out.append(
                    f"recorded the PIN digest of {digests} unchanged PIN(s): the next "
                    "import checks them without argon2"
                )
            out.append(f"{self.summary()} (directory version {self.version})")
        return out


class DirectoryImporter:
    """Applies directories to one Redis.

    ``hasher`` sets the argon2id cost of the PIN hashes it writes (tests pass
    a cheap one); with ``digester``, it stores each PIN's keyed digest and
    skips argon2 for PINs whose digest matches (``services.directory.digest``;
    without one, it verifies every PIN); ``box`` seals the SIP secrets it
    writes; a replaced SIP secret stays valid for ``secret_grace_seconds``;
    ``core`` ends sessions (by default a core of its own over the same
    Redis); at most ``pin_concurrency`` argon2 computations run at once, in
    worker threads.
    """

    def __init__(
        self,
        redis: Redis,
        hasher: PinHasher,
        core: BindingCore | None = None,
        *,
        box: SecretBox,
        digester: PinDigester | None = None,
        secret_grace_seconds: int = 86_400,
        pin_concurrency: int = 4,
        attempts: int = 5,
    ) -> None:
        self._redis = redis
        self._hasher = hasher
        self._box = box
        self._digester = digester
        self._secret_grace_seconds = secret_grace_seconds
        self._core = core or BindingCore(redis, TenantCache(redis))
        self._pin_concurrency = pin_concurrency
        self._attempts = attempts

    async def apply(
        self, directory: Directory, *, dry_run: bool = False, tenant: str | None = None
    ) -> ImportReport:
        """Make Redis hold ``directory``; with ``dry_run``, only say what
        that would change. With ``tenant``, ``directory`` is that tenant's
        part and only its entries change (``services.directory.scope``).
        Raises PlanRefused (the file cannot be applied to what Redis holds)
        or ImportConflict, neither having written any of the directory."""
        pins = PinWork(self._hasher, self._digester, self._pin_concurrency)
        ended: list[pb.Binding] = []
        for attempt in range(1, self._attempts + 1):
            report = await self._attempt(directory, pins, ended, dry_run, tenant)
            if report is not None:
                report = replace(
                    report, pin_verifies=pins.verifies, pin_digest_matches=pins.digest_matches
                )
                self._log(report)
                return report
            log.info("directory_import_retry", extra=fields(attempt=attempt))
        raise ImportConflict(
            f"the directory kept changing during the import ({self._attempts} attempts); none "
            "of the file was written (sessions of entries it removes may have been ended): "
            "run it again"
        )

    async def _plan(self, directory: Directory, pins: PinWork, tenant: str | None) -> Plan:
        stored = await read_stored(self._redis)
        if tenant is None:
            return await make_plan(directory, stored, pins)
        part = tenant_part(directory, stored, tenant)
        return await make_plan(directory, part, pins, tenant_part=True)

    async def _attempt(
        self,
        directory: Directory,
        pins: PinWork,
        ended: list[pb.Binding],
        dry_run: bool,
        tenant: str | None,
    ) -> ImportReport | None:
        """One try; None if Redis changed under it (then nothing was
        written). Sessions it ends are added to ``ended``."""
        if is_cluster(self._redis):
            return await self._attempt_per_slot(directory, pins, ended, dry_run, tenant)
        async with self._redis.pipeline(transaction=True) as tx:
            await tx.watch(keys.DIR_VERSION, keys.DIR_SCHEMA)
            version = await self._stored_version(tx)
            plan = await self._plan(directory, pins, tenant)
            if dry_run or not plan.writes:
                return ImportReport(plan, version, tuple(ended), dry_run)
            ended += await end_sessions(self._core, plan)
            if not await watch_leaving(tx, self._redis, Leaving.of(plan)):
                return None
            writes = await self._writes(plan, pins)
            tx.multi()
            writes.replay(tx)
            try:
                await tx.execute()
            except WatchError:
                return None
        return self._done(plan, version, ended)

    async def _attempt_per_slot(
        self,
        directory: Directory,
        pins: PinWork,
        ended: list[pb.Binding],
        dry_run: bool,
        tenant: str | None,
    ) -> ImportReport:
        """On a Redis Cluster: one transaction per slot, the directory
        index's last, under an import lock (a second import waits for none:
        it is refused). A login on a leaving entry fails only its slot's
        transaction, which is retried after ending that session again: the
        writes are the same whatever the sessions, so no slot is left
        half-written."""
        version = await self._stored_version(self._redis)
        plan = await self._plan(directory, pins, tenant)
        if dry_run or not plan.writes:
            return ImportReport(plan, version, tuple(ended), dry_run)
        async with import_lock(self._redis):
            if await self._stored_version(self._redis) != version:
                raise ImportConflict("another import changed the directory meanwhile: run it again")
            ended += await end_sessions(self._core, plan)
            writes = await self._writes(plan, pins)
            leaving = Leaving.of(plan)
            for slot in writes.slots():
                await self._write_slot(writes, slot, leaving.in_slot(slot), plan, ended)
        return self._done(plan, version, ended)

    async def _write_slot(
        self,
        writes: SlotBatches,
        slot: int,
        leaving: Leaving,
        plan: Plan,
        ended: list[pb.Binding],
    ) -> None:
        for _ in range(self._attempts):
            async with self._redis.pipeline(transaction=True) as tx:
                if not await watch_leaving(tx, self._redis, leaving):
                    ended += await end_sessions(self._core, plan)
                    continue
                tx.multi()
                writes.replay(tx, slot)
                try:
                    await tx.execute()
                    return
                except WatchError:
                    ended += await end_sessions(self._core, plan)
        raise ImportConflict(
            f"logins kept arriving on entries this import removes ({self._attempts} attempts on "
            f"slot {slot}); part of the file is written: run it again to finish"
        )

    async def _stored_version(self, redis: Redis) -> int:
        """The directory version; refuses a directory a newer version wrote."""
        version = int(await redis.get(keys.DIR_VERSION) or 0)
        schema = int(await redis.get(keys.DIR_SCHEMA) or 0)
        if schema > SCHEMA_VERSION:
            raise PlanRefused(
                f"the directory in Redis was written by a newer version (records schema "
                f"{schema}; this version writes {SCHEMA_VERSION}): importing with this one "
                "would drop what it does not know; import with the newer version"
            )
        return version

    async def _writes(self, plan: Plan, pins: PinWork) -> SlotBatches:
        """Every write of ``plan``, the version's increment last."""
        hashes = await asyncio.gather(
            *(pins.hash_for(plan.pin_owner(u), pin) for u, pin in plan.new_pins)
        )
        counters = await stale_lockout_counters(self._redis, plan)
        new_pins = {
            u.ref: (h, pins.digest(u.tenant, u.extension, pin, h))
            for (u, pin), h in zip(plan.new_pins, hashes, strict=True)
        }
        now = time.time()
        rotation = SecretRotation(int(now) + self._secret_grace_seconds, int(now * 1000))
        writes = SlotBatches()
        queue_writes(writes, plan, new_pins, counters, self._box, rotation)
        if plan.changes_directory:  # PIN digests alone are no new version
            writes.incr(keys.DIR_VERSION)
            writes.set(keys.DIR_SCHEMA, SCHEMA_VERSION)
        return writes

    def _done(self, plan: Plan, version: int, ended: list[pb.Binding]) -> ImportReport:
        new_version = version + 1 if plan.changes_directory else version
        return ImportReport(plan, new_version, tuple(ended), dry_run=False)

    @staticmethod
    def _log(report: ImportReport) -> None:
        if report.dry_run:
            return
        log.info(
            "directory_imported",
            extra=fields(
                added=len(report.added),
                changed=len(report.changed),
                removed=len(report.removed),
                sessions_ended=len(report.sessions_ended),
                pin_verifies=report.pin_verifies,
                pin_digest_matches=report.pin_digest_matches,
                pin_digests_written=len(report.plan.pin_digests),
                version=report.version,
            ),
        )
