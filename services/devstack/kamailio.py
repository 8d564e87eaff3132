"""kamailio-local.cfg: the addresses and switches kamailio/kamailio.cfg
reads, for `make run` and the tests (Kubernetes ships one in a ConfigMap)."""

from dataclasses import dataclass, field, replace
from pathlib import Path

from services.devstack.pki import Credentials

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "kamailio" / "kamailio.cfg"
MODULES = ROOT / ".cache" / "kamailio" / "modules"


@dataclass(frozen=True)
class EdgeAddresses:
    sip_listen: str  # udp:127.0.0.1:5060
    http_listen: str  # tcp:127.0.0.1:5080 (metrics)
    redis_host: str
    redis_port: int
    binding_url: str
    emergency_gw: str
    pstn_gw: str
    binding_timeout_ms: int = 800
    hotdesk: bool = True
    antiflood: bool = False  # pike + an expiring ban list (on in Kubernetes)
    push_from: str = "127.0.0.0/8"  # sources trusted to push check-sync NOTIFYs
    voice_menu: str | None = None  # sip:host:port of the voice menu (None: 501)
    # The file of the key X-Hotdesk-Device is signed with (required with
    # voice_menu: Kamailio does not start without it).
    menu_key: str | None = None
    # The peers' address list Kamailio writes and reloads (relative: in the
    # run directory).
    peers_file: str = "kamailio-peers.list"
    # host:port phones reach this edge at (default: the SIP listen address).
    advertise: str | None = None
    # Kamailio's Redis password (of the ACL user "default", or redis_user);
    # written into kamailio-local.cfg, which is therefore private (mode 600).
    redis_password: str = ""
    redis_user: str = ""
    # A Redis Cluster (redis_host:redis_port is one of its nodes), and a
    # second node (host:port) commands go to after the first failed.
    redis_cluster: bool = False
    redis_second: str | None = None
    # Where the route cache's checks read (host:port): the primary, as ACL
    # user "kamailio" with redis_password, when redis_host:redis_port is a
    # replica (which may lag behind a login just answered); None: the Redis
    # above, with its credentials (a primary, or the cluster).
    route_redis: str | None = None
    # SIP over TCP too, on the UDP listener's address and port.
    tcp: bool = True
    # The internal socket only the provision service's check-sync pushes
    # reach (udp:host:port); None: pushes are refused.
    push_listen: str | None = None
    # SIP over TLS (tls:host:port) with this certificate and key.
    tls_listen: str | None = None
    tls: Credentials | None = None
    # The tls module's file, written beside kamailio-local.cfg (relative: in
    # the run directory).
    tls_config_file: str = "kamailio-tls.cfg"
    # kamailio.cfg's overridable limits (#!trydef), e.g. HD_MAX_CONTACTS.
    limits: dict[str, int] = field(default_factory=dict)
    # A cluster node: its DMQ socket (udp:ip:port), the other nodes' DMQ
    # ip:port (at most 4), where KDMQ may come from, and this node's SIP
    # ip:port as the others reach it (default: the SIP listen address).
    # Operators' RPC socket (a Unix socket path; relative: in the run
    # directory), for kamcmd.
    ctl_socket: str | None = "kamailio.ctl"
    # The media relay of voice-menu calls: rtpengine's ng control socket
    # (udp:host:port) and the address its media reaches the menu from.
    rtpengine: str | None = None
    media_relay_ip: str | None = None
    dmq_listen: str | None = None
    dmq_peers: tuple[str, ...] = ()
    cluster_from: str = "127.0.0.0/8"
    node_address: str | None = None


def _redis_spec(a: EdgeAddresses, name: str, host: str, port: int, user: str | None = None) -> str:
    """An ndb_redis server spec (``user=``: kamailio/patches), as
    ``a.redis_user`` unless ``user`` names another."""
    spec = f"name={name};addr={host};port={port}"
    if login := user or a.redis_user:
        spec += f";user={login}"
    if a.redis_password:
        spec += f";pass={a.redis_password}"
    return spec


def local_config(a: EdgeAddresses) -> str:
    defines = {
        "HD_LISTEN": a.sip_listen,
        "HD_ADVERTISE": a.advertise or a.sip_listen.split(":", 1)[1],
        "HD_PEERS_FILE": a.peers_file,
        "HD_HTTP_LISTEN": a.http_listen,
        "HD_REDIS": _redis_spec(a, "hd", a.redis_host, a.redis_port),
        "HD_BINDING_URL": a.binding_url,
        "HD_BINDING_TIMEOUT": str(a.binding_timeout_ms),
        "HD_MODULES": str(MODULES),
        "HD_EMERGENCY_GW": a.emergency_gw,
        "HD_PSTN_GW": a.pstn_gw,
        "HD_PUSH_FROM": a.push_from,
    }
    if a.route_redis:
        host, port = a.route_redis.rsplit(":", 1)
        defines["HD_ROUTE_REDIS"] = _redis_spec(a, "route", host, int(port), user="kamailio")
    else:
        defines["HD_ROUTE_REDIS"] = _redis_spec(a, "route", a.redis_host, a.redis_port)
    if a.redis_second:
        host, port = a.redis_second.rsplit(":", 1)
        defines["HD_SECOND_REDIS"] = _redis_spec(a, "hd2", host, int(port))
    if a.tcp:
        defines["HD_TCP_LISTEN"] = "tcp:" + a.sip_listen.split(":", 1)[1]
    if a.push_listen:
        defines["HD_PUSH_LISTEN"] = a.push_listen
    if a.tls_listen and a.tls:
        defines["HD_TLS_LISTEN"] = a.tls_listen
        defines["HD_TLS_CONFIG"] = a.tls_config_file
        defines["HD_TLS_CERT_FILE"] = str(a.tls.cert)
    if a.voice_menu:
        defines["HD_VOICE_MENU"] = a.voice_menu
    if a.menu_key:
        defines["HD_MENU_KEY_FILE"] = a.menu_key
    if a.ctl_socket:
        defines["HD_CTL_SOCKET"] = a.ctl_socket
    if a.rtpengine:
        if not a.media_relay_ip:
            raise ValueError("rtpengine needs media_relay_ip")
        defines["HD_RTPENGINE"] = a.rtpengine
        defines["HD_MEDIA_RELAY_IP"] = a.media_relay_ip
    if a.dmq_listen:
        if len(a.dmq_peers) > 4:
            raise ValueError("kamailio.cfg takes at most 4 other cluster nodes")
        defines["HD_DMQ_LISTEN"] = a.dmq_listen
        defines["HD_DMQ_ADDRESS"] = a.dmq_listen.split(":", 1)[1]
        defines["HD_CLUSTER_FROM"] = a.cluster_from
        defines["HD_NODE_ADDRESS"] = a.node_address or a.sip_listen.split(":", 1)[1]
        for n, peer in enumerate(a.dmq_peers, start=1):
            defines[f"HD_DMQ_PEER_{n}"] = peer
    lines = ["#!define WITH_HOTDESK"] if a.hotdesk else []
    lines += ["#!define WITH_ANTIFLOOD"] if a.antiflood else []
    lines += ["#!define HD_CLUSTER_REDIS"] if a.redis_cluster else []
    lines += [f'#!substdef "!{name}!{int(value)}!g"' for name, value in a.limits.items()]
    lines += [f'#!substdef "!{name}!{value}!g"' for name, value in defines.items()]
    return "\n".join(lines) + "\n"


def tls_config(tls: Credentials) -> str:
    """The tls module's file: phones verify the edge; the edge does not ask
    phones for certificates (they authenticate with digest), and verifies
    whoever it connects to (TLS gateways) against the same CA list."""
    return f"""[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {tls.cert}
private_key = {tls.key}
ca_list = {tls.ca}
cipher_list = HIGH:!aNULL:!MD5:!RC4:!3DES

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
ca_list = {tls.ca}
"""


def prepare_run_dir(run_dir: Path, a: EdgeAddresses) -> None:
    """kamailio-local.cfg (and the tls module's file), and the peers'
    address list, which must exist when Kamailio starts (it fills it from
    Redis within a second)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    peers = (run_dir / a.peers_file).resolve()
    tls_file = (run_dir / a.tls_config_file).resolve()
    local = run_dir / "kamailio-local.cfg"
    local.touch(mode=0o600)
    local.chmod(0o600)
    ctl = str((run_dir / a.ctl_socket).resolve()) if a.ctl_socket else None
    local.write_text(
        local_config(
            replace(a, peers_file=str(peers), tls_config_file=str(tls_file), ctl_socket=ctl)
        )
    )
    if a.tls_listen and a.tls:
        tls_file.write_text(tls_config(a.tls))
    if not peers.exists():
        peers.write_text("")


# Kamailio's shared memory, MB (as the container's EDGE_SHM_MB).
SHM_MB = 1024


def kamailio_argv(
    binary: str, run_dir: Path, *, json_logs: bool = False, shm_mb: int = SHM_MB
) -> list[str]:
    """Foreground, logging to stderr; run it with ``cwd=run_dir``.

    ``shm_mb`` of shared memory (``SHM_MB`` unless told; TLSF memory
    manager): a call holds ~25 KB of it until its transactions have waited
    out their timers (~5 s after the BYE), ~125 MB at 1,000 calls/s: with
    256 MB, 1,300 calls/s ran out (tm: "out of mem"), with 512 MB 2,800.
    ``json_logs``: one JSON object per line with the message's Call-ID as
    ``callid`` (Kamailio's json log engine, flags c and M), as in production.
    """
    return [
        binary,
        "-DD",
        "-E",
        "-f",
        str(CONFIG),
        "-Y",
        str(run_dir),
        "-P",
        str(run_dir / "kamailio.pid"),
        "-m",
        str(shm_mb),
        "-M",
        "16",
        # TLSF, not the default first-fit allocator, whose search took ~15 %
        # of a call's CPU under load.
        "-x",
        "tlsf",
        *(["--log-engine=json:cM"] if json_logs else []),
    ]
