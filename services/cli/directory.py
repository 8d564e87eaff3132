"""``hotdesk directory validate|import FILE``: straight to Redis, as one
transaction (see ``services.directory.importer``)."""

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.auth.pins import PinHasher
from services.cli.exits import Exit, Failure
from services.cli.settings import CliSettings
from services.directory.digest import PinDigester
from services.directory.importer import DirectoryImporter
from services.directory.load import DirectoryError, load_directory
from services.directory.lock import ImportConflict
from services.directory.model import Directory
from services.directory.plan import PlanRefused
from services.kernel.errors import MissingConfiguration
from services.kernel.redis_conn import connect
from services.kernel.secretbox import SecretBox


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def _load(file: str) -> Directory:
    try:
        return load_directory(Path(file))
    except DirectoryError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise Failure(
            f"{len(exc.problems)} problem(s) in {file}; nothing was written", Exit.INVALID
        ) from exc


def _digester(settings: CliSettings) -> PinDigester | None:
    """The PIN digest key, if one is set (else every PIN is verified)."""
    if settings.pin_digest_key_file is None:
        return None
    try:
        return PinDigester.from_file(settings.pin_digest_key_file, "hotdesk directory import")
    except MissingConfiguration as exc:
        raise Failure(f"cannot check PINs by digest: {exc}", Exit.INVALID) from exc


async def validate(args: argparse.Namespace, settings: CliSettings) -> Exit:
    d = _load(args.file)
    print(
        f"{args.file}: valid: {len(d.tenants)} tenants, {len(d.users)} users, "
        f"{len(d.devices)} devices"
    )
    return Exit.OK


async def import_(args: argparse.Namespace, settings: CliSettings) -> Exit:
    directory = _load(args.file)
    try:
        box = SecretBox.from_file(settings.secrets_key_file, "hotdesk directory import")
    except MissingConfiguration as exc:
        raise Failure(f"cannot seal SIP secrets: {exc}", Exit.INVALID) from exc
    digester = _digester(settings)
    redis = connect(
        settings.redis_url,
        cluster=settings.redis_cluster,
        password_file=settings.redis_password_file,
        ca_file=settings.redis_ca_file,
    )
    hasher = PinHasher(
        settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism
    )
    try:
        importer = DirectoryImporter(
            redis,
            hasher,
            box=box,
            digester=digester,
            secret_grace_seconds=settings.sip_secret_grace_seconds,
        )
        report = await importer.apply(directory, dry_run=args.dry_run)
    except PlanRefused as exc:
        raise Failure(f"{args.file}: {exc}; nothing was written", Exit.INVALID) from exc
    except ImportConflict as exc:
        raise Failure(f"{args.file}: {exc}", Exit.REFUSED) from exc
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        where = _without_password(settings.redis_url)
        raise Failure(f"cannot reach Redis at {where}: {exc}", Exit.UNAVAILABLE) from exc
    finally:
        await redis.aclose()
    for line in report.lines():
        print(line)
    return Exit.OK
