"""`make cluster` as an operator runs it (on free ports): a call from a
phone registered at node b to a user whose desk registered at node a,
placed through node c, rings that desk with the user's identity; killing
the Redis master that holds the demo tenants' slot loses no session and a
new login works again after the fail-over; Ctrl-C stops everything."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.devstack.cluster import ClusterSettings
from tests.cluster.conftest import free_node_ports
from tests.support.demo import desk_call, register_desk
from tests.support.devstack_process import devstack_process, operator_cli_env
from tests.support.kamailio import free_sip_port, free_tcp_port, free_udp_port
from tests.support.sipp import Sipp, answered

DEMO_GROUP_KEY = "hd:{acme-group}:dev:hd3001"


@dataclass
class RunningCluster:
    proc: "subprocess.Popen[str]"
    settings: ClusterSettings
    env: dict[str, str]
    output: list[str]

    def cli(self, *argv: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def _free_settings(tmp: Path) -> ClusterSettings:
    """Every address of the cluster on a free port, its data under ``tmp``."""
    return ClusterSettings(
        data_dir=tmp / "run",
        redis_ports=free_node_ports(6),
        sip_ports=(free_sip_port(), free_sip_port(), free_sip_port()),
        metrics_ports=(free_tcp_port(), free_tcp_port(), free_tcp_port()),
        dmq_ports=(free_udp_port(), free_udp_port(), free_udp_port()),
        push_port=free_udp_port(),
        binding_grpc_port=free_tcp_port(),
        binding_http_port=free_tcp_port(),
        binding_ops_ports=(free_tcp_port(), free_tcp_port()),
        auth_grpc_port=free_tcp_port(),
        auth_ops_ports=(free_tcp_port(), free_tcp_port()),
        menu_ports=(free_udp_port(), free_udp_port()),
        menu_grpc_port=free_tcp_port(),
        rtpengine_port=free_udp_port(),
        media_ports=(25000, 25999),
        menu_ops_ports=(free_tcp_port(), free_tcp_port()),
        provision_grpc_port=free_tcp_port(),
        provision_http_ports=(free_tcp_port(), free_tcp_port()),
        provision_ops_ports=(free_tcp_port(), free_tcp_port()),
        admin_grpc_port=free_tcp_port(),
        admin_http_port=free_tcp_port(),
        admin_ops_port=free_tcp_port(),
    )


def _as_env(settings: ClusterSettings) -> dict[str, str]:
    """The settings as the environment `make cluster` reads."""
    return {
        f"HOTDESK_CLUSTER_{name.upper()}": json.dumps(value)
        if isinstance(value, tuple)
        else str(value)
        for name, value in settings.model_dump().items()
    }


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    settings = _free_settings(tmp_path_factory.mktemp("make-cluster"))
    env = os.environ | _as_env(settings)
    with devstack_process("services.devstack.cluster", env, "is running as a cluster") as (
        proc,
        output,
    ):
        cli_env = env | operator_cli_env(
            settings.data_dir,
            settings.binding_grpc_port,
            settings.auth_grpc_port,
            settings.provision_grpc_port,
            settings.admin_http_port,
        )
        yield RunningCluster(proc, settings, cli_env, output)


def test_a_call_through_node_c_rings_the_desk_registered_at_node_a(
    running: RunningCluster, tmp_path: Path
) -> None:
    for device, ext in (("hd3001", "1001"), ("hd3002", "1002")):
        login = running.cli("login", "--device", device, "--tenant", "acme", "--ext", ext)
        assert login.returncode == 0, login.stderr
    logs = tmp_path / "sipp"
    desk_port = free_udp_port()
    for node, device, contact in ((0, "hd3002", desk_port), (1, "hd3001", free_udp_port())):
        register_desk(
            running.settings.sip_ports[node],
            device,
            contact_port=contact,
            log_dir=logs,
            name=f"{device}-registers",
        )
    call = desk_call(
        running.settings.sip_ports[2], "hd3001", "1002", log_dir=logs, name="alice-via-c"
    )
    desk = answered(call, Sipp("answer", None, logs, name="bob-desk", local_port=desk_port))
    (invite,) = desk.received("INVITE")
    assert (invite.header("From") or "").startswith('"Alice Example" <sip:1001@')


def test_the_demo_master_dies_and_no_session_is_lost(running: RunningCluster) -> None:
    login = running.cli("login", "--device", "hd3001", "--tenant", "acme", "--ext", "1001")
    assert login.returncode == 0, login.stderr
    before = running.cli("status")
    assert before.returncode == 0, before.stderr
    where = subprocess.run(
        [sys.executable, "-m", "services.devstack.cluster", "master-of", DEMO_GROUP_KEY],
        env=running.env,
        capture_output=True,
        text=True,
        check=True,
    )
    master = int(where.stdout)
    pids = subprocess.run(
        ["pgrep", "-f", f"redis-server 127.0.0.1:{master} "], capture_output=True, text=True
    ).stdout.split()
    assert len(pids) == 1, pids
    os.kill(int(pids[0]), signal.SIGKILL)
    killed_at = time.monotonic()
    for _ in range(300):
        login = running.cli("login", "--device", "hd3003", "--tenant", "acme", "--ext", "1003")
        if login.returncode == 0:
            break
        assert time.monotonic() - killed_at < 90, login.stderr
        time.sleep(0.2)
    print(f"a login worked again {time.monotonic() - killed_at:.1f} s after master {master} died")
    after = running.cli("status")
    assert after.returncode == 0, after.stderr
    sessions_before = [line for line in before.stdout.splitlines() if "acme/" in line]
    sessions_after = [line for line in after.stdout.splitlines() if "acme/" in line]
    assert sessions_before
    assert [s for s in sessions_after if not s.startswith("hd3003")] == sessions_before
    assert any(s.startswith("hd3003") and "acme/1003" in s for s in sessions_after)
    assert running.proc.poll() is None
