"""``python -m services.admin.accounts``: operator accounts and API tokens
from a shell, for the first platform admin of a deployment (there is no
one yet to sign in and create them) and for `make run`'s demo operators.
Runs with the admin service's settings (``HOTDESK_ADMIN_*``: its Redis
user); a password is read from standard input, never from arguments.

  ... accounts operator NAME --role platform_admin|tenant_admin|helpdesk [--tenant T]...
  ... accounts token NAME --label LABEL --file PATH   (the token, mode 600)
"""

import argparse
import asyncio
import os
import sys
from pathlib import Path

from services.admin.credentials import ApiTokens
from services.admin.operators import Operator, OperatorStore, Role
from services.admin.settings import AdminSettings
from services.kernel.redis_conn import connect


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.admin.accounts")
    commands = parser.add_subparsers(dest="command", required=True)
    operator = commands.add_parser("operator", help="create or replace an operator")
    operator.add_argument("name")
    operator.add_argument("--role", required=True, choices=[r.value for r in Role])
    operator.add_argument("--tenant", action="append", default=[], dest="tenants")
    token = commands.add_parser("token", help="create an API token of an operator")
    token.add_argument("name")
    token.add_argument("--label", required=True)
    token.add_argument("--file", required=True, type=Path)
    return parser.parse_args(argv)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


async def _run(args: argparse.Namespace, s: AdminSettings) -> int:
    redis = connect(
        s.redis_url,
        cluster=s.redis_cluster,
        password_file=s.redis_password_file,
        ca_file=s.redis_ca_file,
    )
    try:
        store = OperatorStore(
            redis,
            OperatorStore.hasher(
                s.argon2_time_cost, s.argon2_memory_cost_kib, s.argon2_parallelism
            ),
        )
        if args.command == "operator":
            password = sys.stdin.readline().rstrip("\n")
            await store.put(Operator(args.name, Role(args.role), tuple(args.tenants)), password)
            return 0
        if await store.get(args.name) is None:
            print(f"no operator {args.name}", file=sys.stderr)
            return 1
        token, _ = await ApiTokens(redis).create(args.name, args.label)
        _write_private(args.file, token)
        return 0
    finally:
        await redis.aclose()


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    try:
        return asyncio.run(_run(args, AdminSettings()))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
