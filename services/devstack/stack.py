"""Start Redis, the services and the demo directory; stop all on Ctrl-C.

Every process is a child of this one; their output is interleaved on the
terminal with a name prefix. Data lives in ``.run/`` so a restart keeps the
sessions (Redis runs with AOF, as in production).
"""

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.devstack.kamailio import EdgeAddresses, kamailio_argv, prepare_run_dir
from services.devstack.menu_key import ensure_menu_key
from services.devstack.pki import LOCAL_HOSTS, LocalCa
from services.devstack.prometheus import prometheus_argv, scrape_config
from services.devstack.redis_acl import ADMIN_USER
from services.devstack.redis_cluster import LocalRedisCluster
from services.devstack.redis_pair import RedisPair
from services.directory.digest import PinDigester
from services.kernel.secretbox import SecretBox

ROOT = Path(__file__).resolve().parents[2]


class DevStackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_DEV_", extra="ignore")

    host: str = "127.0.0.1"
    # Not 6379: a distribution's own redis-server service often holds that.
    redis_port: int = 6380
    # The read-only replica Kamailio reads.
    redis_replica_port: int = 6381
    data_dir: Path = ROOT / ".run"
    directory_file: Path = ROOT / "examples" / "directory.yaml"
    binding_grpc_port: int = 7100
    binding_http_port: int = 7180
    binding_ops_port: int = 7190
    auth_grpc_port: int = 7200
    auth_ops_port: int = 7290
    menu_grpc_port: int = 7250  # health only
    menu_port: int = 7260  # SIP (UDP) of the voice menu
    menu_ops_port: int = 7270
    provision_grpc_port: int = 7300
    provision_http_port: int = 7380
    provision_ops_port: int = 7390
    admin_grpc_port: int = 7400  # health only
    admin_http_port: int = 7480  # the operators' API (and console)
    admin_ops_port: int = 7490
    # The media relay of voice-menu calls: its control port and media ports.
    rtpengine_port: int = 2230
    media_ports: tuple[int, int] = (23000, 23999)
    sip_port: int = 5060  # UDP and TCP
    sips_port: int = 5061  # TLS
    push_port: int = 5070  # the provision service's check-sync pushes only
    kamailio_metrics_port: int = 5080
    # A local Prometheus scraping every component (the Grafana dashboards of
    # deploy/monitoring/dashboards read it); not 9090, which a distribution's
    # own Prometheus often holds.
    prometheus: bool = True
    prometheus_port: int = 9095
    # Where calls to emergency and other outside numbers go (a gateway of
    # yours; `sipp -sn uas -p 5091` plays one locally).
    emergency_gw: str = "sip:127.0.0.1:5091"
    pstn_gw: str = "sip:127.0.0.1:5092"


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    cwd: Path = ROOT
    proc: asyncio.subprocess.Process | None = None


def identity(ca: LocalCa, name: str) -> dict[str, str]:
    """The gRPC identity of service ``name``: a certificate of the local CA
    (its CN ``service:<name>``), valid for this machine's addresses."""
    c = ca.issue(name, f"service:{name}", LOCAL_HOSTS)
    return {
        "GRPC_TLS_CERT_FILE": str(c.cert),
        "GRPC_TLS_KEY_FILE": str(c.key),
        "GRPC_TLS_CA_FILE": str(c.ca),
    }


def _redis(s: DevStackSettings) -> RedisPair:
    return RedisPair(s.host, s.redis_port, s.redis_replica_port, s.data_dir)


def service_env(
    prefix: str,
    host: str,
    ca: LocalCa,
    grpc_port: int,
    ops_port: int,
    redis: RedisPair | LocalRedisCluster,
    redis_user: str | None = None,
) -> dict[str, str]:
    """A service's addresses, identity and Redis (as its own ACL user:
    the service's name unless ``redis_user``)."""
    name = prefix.removeprefix("HOTDESK_").removesuffix("_").lower()
    user = redis_user or name
    env = {
        f"{prefix}REDIS_URL": redis.url_as(user),
        f"{prefix}REDIS_PASSWORD_FILE": str(redis.password_file(user)),
        f"{prefix}GRPC_HOST": host,
        f"{prefix}GRPC_PORT": str(grpc_port),
        f"{prefix}OPS_HOST": host,
        f"{prefix}OPS_PORT": str(ops_port),
        **{f"{prefix}{k}": v for k, v in identity(ca, name).items()},
    }
    if isinstance(redis, LocalRedisCluster):
        env[f"{prefix}REDIS_CLUSTER"] = "true"
    return env


def _service_env(
    prefix: str, s: DevStackSettings, ca: LocalCa, grpc_port: int, ops_port: int
) -> dict[str, str]:
    return service_env(prefix, s.host, ca, grpc_port, ops_port, _redis(s))


def secrets_key(data_dir: Path) -> Path:
    """The SIP secrets' key under a stack's ``data_dir``: the import seals
    with it, provisioning opens (where the CLI finds it by itself)."""
    return (data_dir / "secrets" / "sip-secrets.key").resolve()


def pin_digest_key(data_dir: Path) -> Path:
    """The key of the PIN digests the import stores, under a stack's
    ``data_dir`` (made the first time; where the CLI finds it by itself)."""
    path = (data_dir / "secrets" / "pin-digest.key").resolve()
    PinDigester.new_key_file(path)
    return path


def webhook_key(data_dir: Path) -> Path:
    """The key the admin service seals webhook secrets with, under a
    stack's ``data_dir`` (made the first time)."""
    path = (data_dir / "secrets" / "webhook.key").resolve()
    SecretBox.new_key_file(path)
    return path


class AdminPorts(Protocol):
    """Where a local stack puts the admin service and the services it acts
    through (``make run``'s and ``make cluster``'s settings both have these)."""

    host: str
    data_dir: Path
    admin_grpc_port: int
    admin_ops_port: int
    admin_http_port: int
    binding_grpc_port: int
    auth_grpc_port: int
    provision_grpc_port: int


def admin_env(s: AdminPorts, ca: LocalCa, redis: RedisPair | LocalRedisCluster) -> dict[str, str]:
    """The admin service's environment in a local stack: its addresses and
    identity, the services behind, the webhook key, and what it needs to
    import a tenant's part of the directory (the import's own Redis user
    and keys, as the CLI's)."""
    return service_env(
        "HOTDESK_ADMIN_", s.host, ca, s.admin_grpc_port, s.admin_ops_port, redis, ADMIN_USER
    ) | {
        "HOTDESK_ADMIN_HTTP_HOST": s.host,
        "HOTDESK_ADMIN_HTTP_PORT": str(s.admin_http_port),
        "HOTDESK_ADMIN_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
        "HOTDESK_ADMIN_AUTH_ADDRESS": f"{s.host}:{s.auth_grpc_port}",
        "HOTDESK_ADMIN_PROVISION_ADDRESS": f"{s.host}:{s.provision_grpc_port}",
        "HOTDESK_ADMIN_WEBHOOK_KEY_FILE": str(webhook_key(s.data_dir)),
        "HOTDESK_ADMIN_DIRECTORY_REDIS_URL": redis.url_as("directory"),
        "HOTDESK_ADMIN_DIRECTORY_REDIS_PASSWORD_FILE": str(redis.password_file("directory")),
        "HOTDESK_ADMIN_SECRETS_KEY_FILE": str(secrets_key(s.data_dir)),
        "HOTDESK_ADMIN_PIN_DIGEST_KEY_FILE": str(pin_digest_key(s.data_dir)),
    }


def menu_key(data_dir: Path) -> Path:
    """The key the edge signs X-Hotdesk-Device with and the voice menu
    checks, under a stack's ``data_dir`` (made the first time)."""
    return ensure_menu_key((data_dir / "menu.key").resolve())


def plan(s: DevStackSettings) -> list[Child]:
    primary_conf, replica_conf = _redis(s).prepare()
    redis_server = shutil.which("redis-server") or "redis-server"
    py = sys.executable
    ca = LocalCa(s.data_dir / "pki")
    # The operator's certificate, where the CLI looks for it by default.
    ca.issue("operator", f"operator:{os.environ.get('USER') or 'operator'}")
    binding_env = _service_env("HOTDESK_BINDING_", s, ca, s.binding_grpc_port, s.binding_ops_port)
    binding_env |= {
        "HOTDESK_BINDING_HTTP_HOST": s.host,
        "HOTDESK_BINDING_HTTP_PORT": str(s.binding_http_port),
    }
    # The edge signs X-Hotdesk-Device with it, the voice menu checks it.
    signing_key = menu_key(s.data_dir)
    SecretBox.new_key_file(secrets_key(s.data_dir))
    auth_env = _service_env("HOTDESK_AUTH_", s, ca, s.auth_grpc_port, s.auth_ops_port)
    auth_env |= {"HOTDESK_AUTH_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}"}
    menu_env = _service_env("HOTDESK_MENU_", s, ca, s.menu_grpc_port, s.menu_ops_port) | {
        "HOTDESK_MENU_KEY_FILE": str(signing_key),
        "HOTDESK_MENU_AUTH_ADDRESS": f"{s.host}:{s.auth_grpc_port}",
        "HOTDESK_MENU_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
        "HOTDESK_MENU_SIP_HOST": s.host,
        "HOTDESK_MENU_SIP_PORT": str(s.menu_port),
        "HOTDESK_MENU_TRUSTED_EDGES": s.host,
    }
    provision_env = _service_env(
        "HOTDESK_PROVISION_", s, ca, s.provision_grpc_port, s.provision_ops_port
    ) | {
        "HOTDESK_PROVISION_HTTP_HOST": s.host,
        "HOTDESK_PROVISION_HTTP_PORT": str(s.provision_http_port),
        "HOTDESK_PROVISION_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
        "HOTDESK_PROVISION_AUTH_ADDRESS": f"{s.host}:{s.auth_grpc_port}",
        "HOTDESK_PROVISION_SIP_PROXY_HOST": s.host,
        "HOTDESK_PROVISION_SIP_PROXY_PORT": str(s.sip_port),
        "HOTDESK_PROVISION_PUSH_EDGE_HOST": s.host,
        "HOTDESK_PROVISION_PUSH_EDGE_PORT": str(s.push_port),
        "HOTDESK_PROVISION_PUSH_BIND_HOST": s.host,
        "HOTDESK_PROVISION_CONSUMER_NAME": "devstack",
        "HOTDESK_PROVISION_SECRETS_KEY_FILE": str(secrets_key(s.data_dir)),
    }
    admin = admin_env(s, ca, _redis(s))
    kamailio_dir = s.data_dir / "kamailio"
    prepare_run_dir(
        kamailio_dir,
        EdgeAddresses(
            sip_listen=f"udp:{s.host}:{s.sip_port}",
            push_listen=f"udp:{s.host}:{s.push_port}",
            tls_listen=f"tls:{s.host}:{s.sips_port}",
            tls=ca.issue("kamailio", "sip:edge", (*LOCAL_HOSTS, s.host)),
            http_listen=f"tcp:{s.host}:{s.kamailio_metrics_port}",
            redis_host=s.host,
            redis_port=s.redis_replica_port,
            redis_password=_redis(s).password("kamailio"),
            route_redis=f"{s.host}:{s.redis_port}",
            binding_url=f"http://{s.host}:{s.binding_http_port}/v1/route",
            emergency_gw=s.emergency_gw,
            pstn_gw=s.pstn_gw,
            voice_menu=f"sip:{s.host}:{s.menu_port}",
            menu_key=str(signing_key),
            rtpengine=f"udp:{s.host}:{s.rtpengine_port}",
            media_relay_ip=s.host,
        ),
    )
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    children = [
        Child("redis", [redis_server, str(primary_conf)]),
        Child("redis-replica", [redis_server, str(replica_conf)]),
        Child(
            "binding",
            [py, "-m", "services.binding"],
            binding_env,
            f"http://{s.host}:{s.binding_ops_port}/readyz",
        ),
        Child(
            "auth",
            [py, "-m", "services.auth"],
            auth_env,
            f"http://{s.host}:{s.auth_ops_port}/readyz",
        ),
        Child(
            "menu",
            [py, "-m", "services.menu"],
            menu_env,
            f"http://{s.host}:{s.menu_ops_port}/readyz",
        ),
        media_relay(s.host, s.rtpengine_port, s.media_ports),
        Child(
            "kamailio",
            kamailio_argv(kamailio, kamailio_dir),
            {},
            f"http://{s.host}:{s.kamailio_metrics_port}/metrics",
            cwd=kamailio_dir,
        ),
        Child(
            "provision",
            [py, "-m", "services.provision"],
            provision_env,
            f"http://{s.host}:{s.provision_ops_port}/readyz",
        ),
        Child(
            "admin",
            [py, "-m", "services.admin"],
            admin,
            f"http://{s.host}:{s.admin_ops_port}/readyz",
        ),
    ]
    if s.prometheus:
        children.append(prometheus(s))
    return children


def scrape_targets(s: DevStackSettings) -> dict[str, list[str]]:
    """Every component's metrics address, by scrape job."""
    h = s.host
    return {
        "binding": [f"{h}:{s.binding_ops_port}"],
        "auth": [f"{h}:{s.auth_ops_port}"],
        "menu": [f"{h}:{s.menu_ops_port}"],
        "provision": [f"{h}:{s.provision_ops_port}"],
        "admin": [f"{h}:{s.admin_ops_port}"],
        "kamailio": [f"{h}:{s.kamailio_metrics_port}"],
    }


def prometheus(s: DevStackSettings) -> Child:
    """Prometheus scraping every component's /metrics, its data under
    data_dir/prometheus."""
    run_dir = s.data_dir / "prometheus"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "prometheus.yml"
    h = s.host
    config.write_text(scrape_config(scrape_targets(s)))
    return Child(
        "prometheus",
        prometheus_argv(config, run_dir / "data", f"{h}:{s.prometheus_port}"),
        {},
        f"http://{h}:{s.prometheus_port}/-/ready",
    )


def media_relay(host: str, port: int, media_ports: tuple[int, int]) -> Child:
    """rtpengine, forwarding in userspace: Kamailio relays voice-menu
    calls' media through it (kamailio.cfg, HD_RTPENGINE)."""
    return Child(
        "rtpengine",
        [
            shutil.which("rtpengine") or "/usr/bin/rtpengine",
            # Not the distribution's /etc/rtpengine/rtpengine.conf: its CLI
            # and TCP control ports would clash with a second relay.
            "--config-file=none",
            *(f"--interface={host}", f"--listen-ng={host}:{port}"),
            *(f"--port-min={media_ports[0]}", f"--port-max={media_ports[1]}"),
            *("--table=-1", "--foreground", "--log-stderr", "--log-level=5"),
        ],
    )


async def pump(name: str, stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        sys.stdout.write(f"{name:>8} | {line.decode(errors='replace')}")
        sys.stdout.flush()


async def wait_ready(child: Child, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            if child.proc is not None and child.proc.returncode is not None:
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}")
            if child.ready_url is None:
                return
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(child.ready_url) as resp:
                    if resp.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} not ready after {within:.0f} s")
            await asyncio.sleep(0.2)


async def wait_scraped(s: DevStackSettings, targets: int, within: float = 30.0) -> None:
    """Until Prometheus has scraped every component once: a counter's first
    sample then predates the walk-through, whose first steps show as rates."""
    url = f"http://{s.host}:{s.prometheus_port}/api/v1/query"
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url, params={"query": "count(up == 1)"}) as resp:
                    result = (await resp.json())["data"]["result"]
                    if result and int(result[0]["value"][1]) == targets:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"prometheus scraped fewer than {targets} targets in {within:.0f} s"
                )
            await asyncio.sleep(0.5)


async def _wait_redis(s: DevStackSettings, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection(s.host, s.redis_port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis not listening on {s.host}:{s.redis_port}") from None
            await asyncio.sleep(0.1)


async def import_directory(file: Path, cli_env: dict[str, str]) -> None:
    """``hotdesk directory import`` of ``file``, with the CLI's settings."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        "directory",
        "import",
        str(file),
        env=os.environ | cli_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    await pump("import", proc.stdout)
    if await proc.wait() != 0:
        raise RuntimeError("the demo directory did not import")


async def _import_directory(s: DevStackSettings) -> None:
    await import_directory(
        s.directory_file,
        {
            "HOTDESK_CLI_REDIS_URL": _redis(s).url_as("directory"),
            "HOTDESK_CLI_REDIS_PASSWORD_FILE": str(_redis(s).password_file("directory")),
            "HOTDESK_CLI_SECRETS_KEY_FILE": str(secrets_key(s.data_dir)),
            "HOTDESK_CLI_PIN_DIGEST_KEY_FILE": str(pin_digest_key(s.data_dir)),
            "HOTDESK_CLI_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
        },
    )


# make run's operators: name -> (role, tenants).
DEMO_OPERATORS = {
    "demo-admin": ("platform_admin", ()),
    "globex-admin": ("tenant_admin", ("globex",)),
}


def admin_token_file(data_dir: Path) -> Path:
    """The demo platform admin's API token under a stack's ``data_dir``
    (where the CLI finds it by itself)."""
    return (data_dir / "secrets" / "admin-token").resolve()


async def _accounts(arguments: list[str], env: dict[str, str], stdin: str = "") -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.admin.accounts",
        *arguments,
        env=os.environ | env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate(stdin.encode())
    if proc.returncode != 0:
        raise RuntimeError(f"admin accounts {arguments[0]}: {output.decode().strip()}")


async def demo_operators(data_dir: Path, env: dict[str, str]) -> dict[str, str]:
    """The demo operators, with passwords new for this run (name ->
    password), and the platform admin's API token for the CLI."""
    passwords = {}
    for name, (role, tenants) in DEMO_OPERATORS.items():
        passwords[name] = secrets.token_urlsafe(12)
        tenant_args = [arg for t in tenants for arg in ("--tenant", t)]
        await _accounts(
            ["operator", name, "--role", role, *tenant_args], env, passwords[name] + "\n"
        )
    token = ["token", "demo-admin", "--label", "make run: the hotdesk CLI"]
    await _accounts([*token, "--file", str(admin_token_file(data_dir))], env)
    return passwords


def operators_lines(passwords: dict[str, str]) -> str:
    lines = []
    for name, password in passwords.items():
        role, tenants = DEMO_OPERATORS[name]
        scope = f" of {', '.join(tenants)}" if tenants else ""
        lines.append(f"  {name:<14} {password:<18} {role}{scope}")
    return "\n".join(lines)


def _prometheus_line(s: DevStackSettings) -> str:
    if not s.prometheus:
        return "  Prometheus                            off (HOTDESK_DEV_PROMETHEUS=false)\n"
    url = f"http://{s.host}:{s.prometheus_port}"
    return f"  Prometheus (Grafana: README)          {url}\n"


def _banner(s: DevStackSettings, operators: dict[str, str]) -> str:
    h = s.host
    media = "-".join(str(p) for p in s.media_ports)
    return f"""
hotdesk-edge is running (Ctrl-C stops everything)

  Redis (AOF in {s.data_dir / "redis"})   redis://{h}:{s.redis_port}/0  (an ACL user per component)
  Redis replica (Kamailio reads it)     redis://{h}:{s.redis_replica_port}/0
  binding gRPC                          {h}:{s.binding_grpc_port}
  binding Kamailio endpoint             http://{h}:{s.binding_http_port}/v1/route
  binding metrics / health              http://{h}:{s.binding_ops_port}/metrics  /readyz
  auth gRPC                             {h}:{s.auth_grpc_port}
  auth metrics / health                 http://{h}:{s.auth_ops_port}/metrics  /readyz
  media relay of menu calls (rtpengine) udp:{h}:{s.rtpengine_port}  media ports {media}
  voice menu (feature codes)            udp:{h}:{s.menu_port}   *45 login, *46 logout, *77*<ext>*
  voice menu gRPC health                {h}:{s.menu_grpc_port}
  voice menu metrics / health           http://{h}:{s.menu_ops_port}/metrics  /readyz
  provision gRPC                        {h}:{s.provision_grpc_port}
  phone files (point phones here)       http://{h}:{s.provision_http_port}/
  provision metrics / health            http://{h}:{s.provision_ops_port}/metrics  /readyz
  console and API (sign in: below)      http://{h}:{s.admin_http_port}/  (API: /api/v1/openapi.json)
  admin metrics / health                http://{h}:{s.admin_ops_port}/metrics  /readyz
  SIP edge (Kamailio), hotdesk.local    udp:{h}:{s.sip_port}  tcp:{h}:{s.sip_port}
  SIP over TLS (CA {s.data_dir}/pki/ca.crt)  tls:{h}:{s.sips_port}
  check-sync pushes (provision only)    udp:{h}:{s.push_port}
  Kamailio metrics                      http://{h}:{s.kamailio_metrics_port}/metrics
{_prometheus_line(s)}  emergency / PSTN gateways (peers)     {s.emergency_gw}  {s.pstn_gw}
  emergency notifications (demo)        sip:security@{h}:5093 (MESSAGE)  http://{h}:5094/emergency
  Kamailio control (kamcmd)             unix:{s.data_dir / "kamailio" / "kamailio.ctl"}

Operators of the admin API, passwords made for this run and shown only here
(the CLI's operator commands use demo-admin's API token in {admin_token_file(s.data_dir)}):
{operators_lines(operators)}
  curl -c /tmp/hd.cookies -H 'Content-Type: application/json' \\
       -d '{{"name": "globex-admin", "password": "<above>"}}' http://{h}:{s.admin_http_port}/api/v1/session
  curl -b /tmp/hd.cookies http://{h}:{s.admin_http_port}/api/v1/devices      (globex's desks only)

Desk phones register as hd3001..hd3003 @ hotdesk.local (proxy udp:{h}:{s.sip_port}),
password demo-secret-<device>; see README "Try a call". From a softphone registered
as hd3001, dial *45, then 1001 # and 4711 # to log in as Alice by voice.

First login (in another terminal, demo directory {s.directory_file.name}):
  .venv/bin/hotdesk status
  .venv/bin/hotdesk login --device hd3001 --tenant acme --ext 1001
  curl '{f"http://{h}:{s.binding_http_port}"}/v1/route?caller_user=hd3001&caller_domain=hotdesk.local&callee_user=1002&callee_domain=hotdesk.local'
  .venv/bin/hotdesk logout --device hd3001
  .venv/bin/hotdesk login --with-pin --device hd3003 --tenant acme --ext 1003   (PIN 5173)
  .venv/bin/hotdesk provision status

Calls from outside: the PSTN gateway (a peer, known by udp:{h}:5092) calls Alice's
number without credentials; the same from any other port is challenged (README
"Calls from outside"):
  sipp {h}:{s.sip_port} -sf tests/sip/peer_call.xml -i {h} -p 5092 -m 1 -s +4930123451001 \\
       -key domain hotdesk.local -key caller +4915112345678 -key extra_header "X-Demo: 1"

An emergency call from an idle desk carries its location (README "Emergency calls"):
  sipp -sf tests/sip/answer.xml -p 5091 -i {h} -m 1 -trace_msg -message_file /tmp/112.log -bg
  sipp {h}:{s.sip_port} -sf tests/sip/call.xml -i {h} -m 1 -s 112 -key user hd3001 \
       -key domain hotdesk.local -key extra_header "X-Demo: 1" -au hd3001 -ap demo-secret-hd3001
  grep -o '<ca:FLR>.*</ca:ROOM>' /tmp/112.log

A phone's file, as hd3001 (a Yealink T54W) fetches it after a login or logout:
  curl --digest -u hd3001:demo-secret-hd3001 -A 'Yealink SIP-T54W 96.86.0.100 00:15:65:aa:30:01' \\
       http://{h}:{s.provision_http_port}/001565aa3001.cfg
"""


# Stopping Redis is how one tries the edge without it (emergency calls still
# go out): the stack keeps running; any other component exiting stops it.
_MAY_STOP = ("redis", "redis-replica")


async def supervise(children: list[Child], stop: asyncio.Event) -> int:
    """Until Ctrl-C (0) or a component other than Redis exits (1)."""
    waiting = {asyncio.create_task(c.proc.wait()): c.name for c in children if c.proc is not None}
    stopper = asyncio.create_task(stop.wait())
    while True:
        done, _ = await asyncio.wait([stopper, *waiting], return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            return 0
        for task in done:
            name = waiting.pop(task)
            if name not in _MAY_STOP:
                print(f"{name} exited; stopping the stack", file=sys.stderr)
                return 1
            print(
                f"{name} stopped; the stack runs on without it (Ctrl-C and `make run` again "
                "to bring it back)",
                file=sys.stderr,
                flush=True,
            )


async def start(child: Child) -> "asyncio.Task[None]":
    """Start ``child``; the task that copies its output to the terminal."""
    child.proc = await asyncio.create_subprocess_exec(
        *child.argv,
        cwd=child.cwd,
        env=os.environ | child.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert child.proc.stdout is not None
    return asyncio.create_task(pump(child.name, child.proc.stdout))


async def stop_all(children: list[Child], pumps: list["asyncio.Task[None]"]) -> None:
    """Stop the children, last started first."""
    for child in reversed(children):
        if child.proc is not None and child.proc.returncode is None:
            child.proc.terminate()
            try:
                await asyncio.wait_for(child.proc.wait(), 10)
            except TimeoutError:
                child.proc.kill()
    for task in pumps:
        task.cancel()


def stop_on_signals() -> asyncio.Event:
    """An event Ctrl-C (and SIGTERM) sets."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run(s: DevStackSettings) -> int:
    children = plan(s)
    stop = stop_on_signals()
    pumps: list[asyncio.Task[None]] = []
    operators: dict[str, str] = {}
    try:
        for child in children:
            pumps.append(await start(child))
            if child.name == "redis":
                await _wait_redis(s)
                await _import_directory(s)
            await wait_ready(child)
            if child.name == "admin":
                operators = await demo_operators(s.data_dir, child.env)
        if s.prometheus:
            await wait_scraped(s, sum(map(len, scrape_targets(s).values())))
        print(_banner(s, operators), flush=True)
        return await supervise(children, stop)
    except RuntimeError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        await stop_all(children, pumps)


def main() -> int:
    return asyncio.run(run(DevStackSettings()))
