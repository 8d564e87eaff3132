"""`make cluster`: the stack of `make run` as a cluster on this one machine.

Three Kamailio nodes sharing registrations over DMQ, a Redis Cluster of
three masters with a replica each, two processes of each service (one of
the admin API, with `make run`'s demo operators), the demo directory;
Ctrl-C stops all. Data, certificates and secrets live in
``.run/`` as with `make run` (the CLI finds them there), the Redis Cluster's
nodes in ``.run/redis-<port>/``.
"""

import asyncio
import os
import shutil
import sys
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.devstack.kamailio import EdgeAddresses, kamailio_argv, prepare_run_dir
from services.devstack.pki import LocalCa
from services.devstack.redis_cluster import LocalRedisCluster
from services.devstack.stack import (
    ROOT,
    Child,
    admin_env,
    admin_token_file,
    demo_operators,
    import_directory,
    media_relay,
    menu_key,
    operators_lines,
    pin_digest_key,
    secrets_key,
    service_env,
    start,
    stop_all,
    stop_on_signals,
    supervise,
    wait_ready,
)
from services.kernel.secretbox import SecretBox

NODES = ("a", "b", "c")
INSTANCES = (1, 2)


class ClusterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_CLUSTER_", extra="ignore")

    host: str = "127.0.0.1"
    data_dir: Path = ROOT / ".run"
    directory_file: Path = ROOT / "examples" / "directory.yaml"
    # Masters first; each port + 10000 is the node's cluster bus.
    redis_ports: tuple[int, ...] = (7001, 7002, 7003, 7004, 7005, 7006)
    # Per Kamailio node: SIP (UDP and TCP), metrics, DMQ (node to node only).
    sip_ports: tuple[int, int, int] = (5060, 5062, 5064)
    metrics_ports: tuple[int, int, int] = (5080, 5082, 5084)
    dmq_ports: tuple[int, int, int] = (5190, 5192, 5194)
    # The provision service's check-sync pushes go to node a.
    push_port: int = 5070
    # Two processes each: gRPC (and the lookup) shared, ops ports per process.
    binding_grpc_port: int = 7100
    binding_http_port: int = 7180
    binding_ops_ports: tuple[int, int] = (7190, 7191)
    auth_grpc_port: int = 7200
    auth_ops_ports: tuple[int, int] = (7290, 7291)
    # Voice menus: SIP per process (node a and c use the first, b the
    # second), gRPC (health) shared, ops per process.
    menu_ports: tuple[int, int] = (7260, 7261)
    menu_grpc_port: int = 7250
    menu_ops_ports: tuple[int, int] = (7270, 7271)
    provision_grpc_port: int = 7300
    provision_http_ports: tuple[int, int] = (7380, 7381)
    provision_ops_ports: tuple[int, int] = (7390, 7391)
    # One admin API (the CLI's logout, unlock, set-pin and status go through it).
    admin_grpc_port: int = 7400
    admin_http_port: int = 7480
    admin_ops_port: int = 7490
    # One media relay for the three nodes' voice-menu calls.
    rtpengine_port: int = 2230
    media_ports: tuple[int, int] = (23000, 23999)
    emergency_gw: str = "sip:127.0.0.1:5091"
    pstn_gw: str = "sip:127.0.0.1:5092"


def redis_cluster(s: ClusterSettings) -> LocalRedisCluster:
    return LocalRedisCluster(s.host, s.redis_ports, s.data_dir)


def _services(
    s: ClusterSettings, ca: LocalCa, redis: LocalRedisCluster, signing_key: Path
) -> list[Child]:
    py = sys.executable
    children = []
    for n, i in enumerate(INSTANCES):
        binding = service_env(
            "HOTDESK_BINDING_", s.host, ca, s.binding_grpc_port, s.binding_ops_ports[n], redis
        ) | {
            "HOTDESK_BINDING_HTTP_HOST": s.host,
            "HOTDESK_BINDING_HTTP_PORT": str(s.binding_http_port),
            "HOTDESK_BINDING_SHARED_PORTS": "true",
            "HOTDESK_BINDING_REDIS_REPLICA_ACKS": "1",
        }
        auth = service_env(
            "HOTDESK_AUTH_", s.host, ca, s.auth_grpc_port, s.auth_ops_ports[n], redis
        ) | {"HOTDESK_AUTH_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}"}
        menu = service_env(
            "HOTDESK_MENU_", s.host, ca, s.menu_grpc_port, s.menu_ops_ports[n], redis
        ) | {
            "HOTDESK_MENU_KEY_FILE": str(signing_key),
            "HOTDESK_MENU_AUTH_ADDRESS": f"{s.host}:{s.auth_grpc_port}",
            "HOTDESK_MENU_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
            "HOTDESK_MENU_SIP_HOST": s.host,
            "HOTDESK_MENU_SIP_PORT": str(s.menu_ports[n]),
            "HOTDESK_MENU_TRUSTED_EDGES": s.host,
        }
        provision = service_env(
            "HOTDESK_PROVISION_", s.host, ca, s.provision_grpc_port, s.provision_ops_ports[n], redis
        ) | {
            "HOTDESK_PROVISION_HTTP_HOST": s.host,
            "HOTDESK_PROVISION_HTTP_PORT": str(s.provision_http_ports[n]),
            "HOTDESK_PROVISION_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
            "HOTDESK_PROVISION_AUTH_ADDRESS": f"{s.host}:{s.auth_grpc_port}",
            "HOTDESK_PROVISION_SIP_PROXY_HOST": s.host,
            "HOTDESK_PROVISION_SIP_PROXY_PORT": str(s.sip_ports[0]),
            "HOTDESK_PROVISION_PUSH_EDGE_HOST": s.host,
            "HOTDESK_PROVISION_PUSH_EDGE_PORT": str(s.push_port),
            "HOTDESK_PROVISION_PUSH_BIND_HOST": s.host,
            "HOTDESK_PROVISION_CONSUMER_NAME": f"devcluster-{i}",
            "HOTDESK_PROVISION_SECRETS_KEY_FILE": str(secrets_key(s.data_dir)),
        }
        for name, env, ops in (
            ("binding", binding, s.binding_ops_ports[n]),
            ("auth", auth, s.auth_ops_ports[n]),
            ("menu", menu, s.menu_ops_ports[n]),
            ("provision", provision, s.provision_ops_ports[n]),
        ):
            children.append(
                Child(f"{name}-{i}", [py, "-m", f"services.{name}"], env, _ready(s, ops))
            )
    return children


def _admin(s: ClusterSettings, ca: LocalCa, redis: LocalRedisCluster) -> Child:
    env = admin_env(s, ca, redis)
    return Child(
        "admin", [sys.executable, "-m", "services.admin"], env, _ready(s, s.admin_ops_port)
    )


def _ready(s: ClusterSettings, ops_port: int) -> str:
    return f"http://{s.host}:{ops_port}/readyz"


def _kamailio_nodes(s: ClusterSettings, redis: LocalRedisCluster, signing_key: Path) -> list[Child]:
    """The nodes speak UDP and TCP (TLS: `make run`)."""
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    nodes = []
    for n, name in enumerate(NODES):
        run_dir = s.data_dir / f"kamailio-{name}"
        prepare_run_dir(
            run_dir,
            EdgeAddresses(
                sip_listen=f"udp:{s.host}:{s.sip_ports[n]}",
                push_listen=f"udp:{s.host}:{s.push_port}" if n == 0 else None,
                http_listen=f"tcp:{s.host}:{s.metrics_ports[n]}",
                redis_host=s.host,
                redis_port=redis.ports[n],
                redis_second=f"{s.host}:{redis.ports[(n + 1) % 3]}",
                redis_cluster=True,
                redis_user="kamailio",
                redis_password=redis.password("kamailio"),
                binding_url=f"http://{s.host}:{s.binding_http_port}/v1/route",
                emergency_gw=s.emergency_gw,
                pstn_gw=s.pstn_gw,
                voice_menu=f"sip:{s.host}:{s.menu_ports[n % 2]}",
                menu_key=str(signing_key),
                rtpengine=f"udp:{s.host}:{s.rtpengine_port}",
                media_relay_ip=s.host,
                dmq_listen=f"udp:{s.host}:{s.dmq_ports[n]}",
                dmq_peers=tuple(f"{s.host}:{p}" for p in s.dmq_ports if p != s.dmq_ports[n]),
                cluster_from=f"{s.host}/32",
            ),
        )
        nodes.append(
            Child(
                f"kamailio-{name}",
                kamailio_argv(binary, run_dir),
                {},
                f"http://{s.host}:{s.metrics_ports[n]}/metrics",
                cwd=run_dir,
            )
        )
    return nodes


def _banner(s: ClusterSettings, redis: LocalRedisCluster, operators: dict[str, str]) -> str:
    h = s.host
    nodes = "\n".join(
        f"  Kamailio node {name}  sip udp/tcp:{h}:{sip}  metrics http://{h}:{m}/metrics  "
        f"DMQ udp:{h}:{d}"
        for name, sip, m, d in zip(NODES, s.sip_ports, s.metrics_ports, s.dmq_ports, strict=True)
    )
    masters = ", ".join(str(p) for p in s.redis_ports[:3])
    replicas = ", ".join(str(p) for p in s.redis_ports[3:])
    menus = ", ".join(f"udp:{h}:{p}" for p in s.menu_ports)
    files = ", ".join(f"http://{h}:{p}/" for p in s.provision_http_ports)
    media = "-".join(str(p) for p in s.media_ports)
    return f"""
hotdesk-edge is running as a cluster (Ctrl-C stops everything)

{nodes}
  Redis Cluster      masters {h}:{masters}; replicas {replicas}
  binding x2         gRPC {h}:{s.binding_grpc_port}, lookup :{s.binding_http_port} (shared ports)
  auth x2            gRPC {h}:{s.auth_grpc_port} (shared)
  voice menu x2      {menus}
  provision x2       gRPC {h}:{s.provision_grpc_port} (shared); phone files {files}
  check-sync pushes  udp:{h}:{s.push_port} (node a)
  media relay        rtpengine udp:{h}:{s.rtpengine_port}, media ports {media}
  admin API          http://{h}:{s.admin_http_port}/ (metrics, health :{s.admin_ops_port})

Operators of the admin API, passwords made for this run and shown only here
(the CLI's logout, unlock, set-pin and status use demo-admin's API token in
{admin_token_file(s.data_dir)}):
{operators_lines(operators)}

A call from a phone registered at :{s.sip_ports[1]} to a user whose desk registered
at :{s.sip_ports[0]}, placed through :{s.sip_ports[2]} (README "make cluster"):
  .venv/bin/hotdesk login --device hd3001 --tenant acme --ext 1001
  .venv/bin/hotdesk login --device hd3002 --tenant acme --ext 1002
  sipp -sf tests/sip/answer.xml -i {h} -p 5097 -m 1 -bg
  sipp {h}:{s.sip_ports[0]} -sf tests/sip/register.xml -i {h} -m 1 -key user hd3002 \\
       -key domain hotdesk.local -key contact_port 5097 -au hd3002 -ap demo-secret-hd3002
  sipp {h}:{s.sip_ports[2]} -sf tests/sip/call.xml -i {h} -m 1 -s 1002 -key user hd3001 \\
       -key domain hotdesk.local -key extra_header "X-Demo: 1" -au hd3001 -ap demo-secret-hd3001

The master holding the demo tenants' sessions, to kill it (a replica takes over):
  .venv/bin/python -m services.devstack.cluster master-of 'hd:{{acme-group}}:dev:hd3001'
  kill $(pgrep -f 'redis-server {h}:<that port>')
  .venv/bin/hotdesk status
"""


async def run(s: ClusterSettings) -> int:
    ca = LocalCa(s.data_dir / "pki")
    ca.issue("operator", f"operator:{os.environ.get('USER') or 'operator'}")
    SecretBox.new_key_file(secrets_key(s.data_dir))
    redis = redis_cluster(s)
    stop = stop_on_signals()
    children: list[Child] = []
    pumps: list[asyncio.Task[None]] = []
    try:
        await asyncio.to_thread(redis.start)
        await import_directory(
            s.directory_file,
            {
                "HOTDESK_CLI_REDIS_URL": redis.url_as("directory"),
                "HOTDESK_CLI_REDIS_PASSWORD_FILE": str(redis.password_file("directory")),
                "HOTDESK_CLI_REDIS_CLUSTER": "true",
                "HOTDESK_CLI_SECRETS_KEY_FILE": str(secrets_key(s.data_dir)),
                "HOTDESK_CLI_PIN_DIGEST_KEY_FILE": str(pin_digest_key(s.data_dir)),
                "HOTDESK_CLI_BINDING_ADDRESS": f"{s.host}:{s.binding_grpc_port}",
            },
        )
        signing_key = menu_key(s.data_dir)
        admin = _admin(s, ca, redis)
        children = [
            *_services(s, ca, redis, signing_key),
            admin,
            media_relay(s.host, s.rtpengine_port, s.media_ports),
            *_kamailio_nodes(s, redis, signing_key),
        ]
        for child in children:
            pumps.append(await start(child))
            await wait_ready(child)
        operators = await demo_operators(s.data_dir, admin.env)
        print(_banner(s, redis, operators), flush=True)
        return await supervise(children, stop)
    except RuntimeError as exc:
        print(f"make cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        await stop_all(children, pumps)
        await asyncio.to_thread(redis.stop)


def main(argv: list[str]) -> int:
    """No arguments: run the cluster; ``master-of KEY``: the port of the
    running cluster's master that serves KEY."""
    s = ClusterSettings()
    if not argv:
        return asyncio.run(run(s))
    if len(argv) == 2 and argv[0] == "master-of":
        print(redis_cluster(s).master_of(argv[1], running=s.redis_ports))
        return 0
    print("usage: python -m services.devstack.cluster [master-of KEY]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
