"""The container images, built in the session by scripts/images.sh (cached:
seconds once built) and run the way the manifests run them: Kamailio's
entrypoint renders the kamailio-local ConfigMap, Kamailio accepts the
shipped configuration and answers SIP, and every Python service becomes
ready against a real Redis as its own ACL user, with its mutual-TLS
certificate and the Secrets it reads mounted."""

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from services.devstack.menu_key import ensure_menu_key
from tests.support.containers import (
    KAMAILIO_IMAGE,
    RESTRICTED,
    ROOT,
    SERVICES_IMAGE,
    Container,
    build_images,
    mounts,
    podman,
    running,
    secret_volume,
)
from tests.support.flood import options_request
from tests.support.kamailio import free_sip_port, free_tcp_port, free_udp_port
from tests.support.pki import credentials
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.secrets import secrets_key_file

# The images' users and groups (the manifests' runAsUser and fsGroup).
SERVICES_GID = 10001
KAMAILIO_GID = 10002


@pytest.fixture(scope="session")
def images() -> None:
    build_images()


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis with the components' ACL users (the services log in to it)."""
    server = RedisServer(tmp_path_factory.mktemp("redis-primary"), acl=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replica(
    primary: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """Its replica, which Kamailio reads as its ``default`` user."""
    server = primary.replica(tmp_path_factory.mktemp("redis-replica"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def configmap() -> dict[str, str]:
    """The kamailio-local ConfigMap's files, as kustomize builds them."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: make bootstrap installs Debian's kubernetes-client"
    built = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / "dev")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    (found,) = [
        d
        for d in yaml.safe_load_all(built)
        if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "kamailio-local"
    ]
    data: dict[str, str] = found["data"]
    return data


def with_defines(local_cfg: str, values: dict[str, str]) -> str:
    """``local_cfg`` with the ``#!substdef`` of each of ``values`` set to it
    (in every ``#!ifdef`` branch that defines it)."""
    for name, value in values.items():
        line = f'#!substdef "!{name}!{value}!g"'.replace("\\", "\\\\")
        local_cfg, count = re.subn(rf'^#!substdef "!{name}!.*!g"$', line, local_cfg, flags=re.M)
        assert count >= 1, name
    return local_cfg


def kamailio_options(tmp_path: Path, files: dict[str, str], redis: RedisServer) -> list[str]:
    """podman options for the edge as kamailio.yaml runs it: the template
    (``files``, the ConfigMap) and the Secrets mounted, emptyDirs where it
    writes."""
    template = tmp_path / "template"
    template.mkdir()
    for name, text in files.items():
        (template / name).write_text(text)
    tls = credentials("sip:edge")
    volumes = {
        "/etc/kamailio/template": template,
        "/etc/hotdesk/tls": secret_volume(
            tmp_path / "tls",
            {"tls.crt": tls.cert, "tls.key": tls.key, "ca.crt": tls.ca},
            KAMAILIO_GID,
        ),
        "/etc/hotdesk/redis": secret_volume(
            tmp_path / "redis", {"password": redis.password_file("kamailio")}, KAMAILIO_GID
        ),
        "/etc/hotdesk/menu": secret_volume(
            tmp_path / "menu", {"key": ensure_menu_key(tmp_path / "menu.key")}, KAMAILIO_GID
        ),
    }
    writable = ("/etc/kamailio/local", "/var/run/hotdesk", "/run/kamailio", "/tmp")
    return [*RESTRICTED, *mounts(volumes, writable)]


def test_kamailio_accepts_the_shipped_configuration(
    images: None, configmap: dict[str, str], replica: RedisServer, tmp_path: Path
) -> None:
    """``kamailio -c`` in the image on kamailio.cfg and the ConfigMap's
    kamailio-local.cfg as the entrypoint renders it (the password in)."""
    options = kamailio_options(tmp_path, configmap, replica)
    done = podman("run", "--rm", *options, KAMAILIO_IMAGE, "-c")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "config file ok" in done.stderr


def test_kamailio_answers_sip(
    images: None,
    configmap: dict[str, str],
    primary: RedisServer,
    replica: RedisServer,
    tmp_path: Path,
) -> None:
    """The edge, its addresses moved onto loopback ports and its Redis onto
    the test's replica (the route cache's checks onto its primary, as ACL
    user kamailio), serves its metrics and answers an OPTIONS, with no
    error logged: both logins worked."""
    sip, http, tls = free_sip_port(), free_tcp_port(), free_tcp_port()
    local_cfg = with_defines(
        configmap["kamailio-local.cfg"],
        {
            "HD_LISTEN": f"udp:127.0.0.1:{sip}",
            "HD_TCP_LISTEN": f"tcp:127.0.0.1:{sip}",
            "HD_TLS_LISTEN": f"tls:127.0.0.1:{tls}",
            "HD_TLS_ADVERTISE": f"127.0.0.1:{tls}",
            "HD_PUSH_LISTEN": f"udp:127.0.0.1:{free_udp_port()}",
            "HD_HTTP_LISTEN": f"tcp:127.0.0.1:{http}",
            "HD_ADVERTISE": f"127.0.0.1:{sip}",
            "HD_REDIS": f"name=hd;addr=127.0.0.1;port={replica.port};pass=@REDIS_PASSWORD@",
            "HD_ROUTE_REDIS": (
                f"name=route;addr=127.0.0.1;port={primary.port};user=kamailio;pass=@REDIS_PASSWORD@"
            ),
            "HD_BINDING_URL": f"http://127.0.0.1:{free_port()}/v1/route",
            "HD_EMERGENCY_GW": f"sip:127.0.0.1:{free_udp_port()}",
            "HD_PSTN_GW": f"sip:127.0.0.1:{free_udp_port()}",
            "HD_PUSH_FROM": "127.0.0.0/8",
            "HD_VOICE_MENU": f"sip:127.0.0.1:{free_udp_port()}",
        },
    )
    files = {**configmap, "kamailio-local.cfg": local_cfg}
    edge = Container(KAMAILIO_IMAGE, kamailio_options(tmp_path, files, replica))
    with running(edge):
        edge.wait_until_serving(f"http://127.0.0.1:{http}/metrics", within=30)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(5)
            sock.sendto(options_request(sip, sock.getsockname()[1], 0), ("127.0.0.1", sip))
            answer = sock.recv(4096).decode()
        assert answer.startswith("SIP/2.0 200 "), answer
        # Nothing went wrong on the way (e.g. without netbase's
        # /etc/protocols: "could not get TCP protocol number"); the only
        # errors are the readiness probes' connections closed unread.
        errors = [line for line in edge.logs().splitlines() if " ERROR: " in line]
        assert [line for line in errors if "core/tcp_read.c" not in line] == []


def service_env(name: str, redis: RedisServer) -> dict[str, str]:
    """The manifest's environment of service ``name`` on loopback ports."""
    env = {
        "REDIS_URL": redis.url_as(name),
        "REDIS_PASSWORD_FILE": "/etc/hotdesk/redis/password",
        "LOG_FORMAT": "json",
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(free_port()),
        "GRPC_TLS_CERT_FILE": "/etc/hotdesk/tls/tls.crt",
        "GRPC_TLS_KEY_FILE": "/etc/hotdesk/tls/tls.key",
        "GRPC_TLS_CA_FILE": "/etc/hotdesk/tls/ca.crt",
        "OPS_HOST": "127.0.0.1",
        "OPS_PORT": str(free_port()),
        "SHUTDOWN_GRACE_SECONDS": "1",
    }
    if name in ("binding", "provision"):
        env |= {"HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(free_port())}
    if name == "auth":
        env |= {"BINDING_ADDRESS": f"127.0.0.1:{free_port()}"}
    if name == "menu":
        env |= {
            "SIP_HOST": "127.0.0.1",
            "SIP_PORT": str(free_udp_port()),
            "ADVERTISE": "127.0.0.1",
            "TRUSTED_EDGES": "127.0.0.0/8",
            "KEY_FILE": "/etc/hotdesk/menu/key",
            "AUTH_ADDRESS": f"127.0.0.1:{free_port()}",
            "BINDING_ADDRESS": f"127.0.0.1:{free_port()}",
        }
    if name == "provision":
        env |= {
            "CONSUMER_NAME": "provision-0",
            "SECRETS_KEY_FILE": "/etc/hotdesk/secrets/key",
            "BINDING_ADDRESS": f"127.0.0.1:{free_port()}",
            "AUTH_ADDRESS": f"127.0.0.1:{free_port()}",
            "PUSH_EDGE_HOST": "127.0.0.1",
            "PUSH_EDGE_PORT": str(free_udp_port()),
            "PUSH_BIND_HOST": "127.0.0.1",
        }
    return {f"HOTDESK_{name.upper()}_{key}": value for key, value in env.items()}


def service_secrets(name: str, redis: RedisServer, tmp_path: Path) -> dict[str, Path]:
    """The Secrets the service's pod mounts (mount point -> volume)."""
    tls = credentials(f"service:{name}")
    volumes = {
        "/etc/hotdesk/tls": {"tls.crt": tls.cert, "tls.key": tls.key, "ca.crt": tls.ca},
        "/etc/hotdesk/redis": {"password": redis.password_file(name)},
    }
    if name == "menu":
        volumes["/etc/hotdesk/menu"] = {"key": ensure_menu_key(tmp_path / "menu.key")}
    if name == "provision":
        volumes["/etc/hotdesk/secrets"] = {"key": secrets_key_file()}
    return {
        point: secret_volume(tmp_path / point.rsplit("/", 1)[1], files, SERVICES_GID)
        for point, files in volumes.items()
    }


@pytest.mark.parametrize("name", ["binding", "auth", "menu", "provision"])
def test_a_service_becomes_ready_and_stops_cleanly(
    images: None, primary: RedisServer, tmp_path: Path, name: str
) -> None:
    """``services.<name>`` in the one Python image, as its Deployment runs
    it: ready against Redis, and it drains and exits 0 on SIGTERM."""
    env = service_env(name, primary)
    options = [
        *RESTRICTED,
        *mounts(service_secrets(name, primary, tmp_path), ("/tmp",)),
        *(f"--env={key}={value}" for key, value in env.items()),
    ]
    service = Container(SERVICES_IMAGE, options, (f"services.{name}",))
    with running(service):
        ops = env[f"HOTDESK_{name.upper()}_OPS_PORT"]
        service.wait_until_serving(f"http://127.0.0.1:{ops}/readyz", within=30)
        assert service.stop() == 0, service.logs()[-3000:]
