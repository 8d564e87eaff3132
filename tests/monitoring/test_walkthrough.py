"""`make run` (on free ports) and the README's first-login walk-through,
run as the README writes it: its last step, the panel check against make
run's own Prometheus, finds data in every panel of the overview dashboard."""

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.devstack.stack import DevStackSettings
from tests.support.devstack_process import ROOT, devstack_process, operator_cli_env
from tests.support.kamailio import free_sip_port, free_tcp_port, free_udp_port

BANNER_END = "First login (in another terminal"


def walkthrough() -> str:
    """The shell block under the README's "First login, step by step"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## First login, step by step", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "no sh block in the README's first-login section"
    return match.group(1)


def free_settings(tmp: Path) -> DevStackSettings:
    tcp = {
        name: free_tcp_port()
        for name in DevStackSettings.model_fields
        if name.endswith("_port")
        and name not in ("sip_port", "menu_port", "push_port", "rtpengine_port")
    }
    return DevStackSettings(
        data_dir=tmp / "run",
        sip_port=free_sip_port(),
        menu_port=free_udp_port(),
        push_port=free_udp_port(),
        rtpengine_port=free_udp_port(),
        media_ports=(26000, 26999),
    ).model_copy(update=tcp)


@pytest.fixture(scope="module")
def make_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DevStackSettings, list[str]]]:
    """make run's settings and its output up to the banner's end."""
    settings = free_settings(tmp_path_factory.mktemp("make-run"))
    env = os.environ | {
        f"HOTDESK_DEV_{k.upper()}": json.dumps(v) if isinstance(v, tuple) else str(v)
        for k, v in settings.model_dump().items()
    }
    with devstack_process("services.devstack", env, BANNER_END) as (_, output):
        yield settings, output


@pytest.fixture(scope="module")
def stack(make_run: tuple[DevStackSettings, list[str]]) -> DevStackSettings:
    return make_run[0]


def _admin(url: str, body: dict[str, str] | None = None, cookie: str = "") -> tuple[Any, str]:
    """A JSON request to make run's admin API: the answer and its cookie."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Cookie": cookie},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        set_cookie = answer.headers.get("Set-Cookie", "")
        return json.loads(answer.read()), set_cookie.split(";", 1)[0]


def test_the_banners_globex_admin_signs_in_and_sees_only_globex(
    make_run: tuple[DevStackSettings, list[str]],
) -> None:
    s, output = make_run
    (line,) = [line for line in output if line.strip().startswith("globex-admin ")]
    password = line.split()[1]
    api = f"http://127.0.0.1:{s.admin_http_port}/api/v1"
    started, cookie = _admin(f"{api}/session", {"name": "globex-admin", "password": password})
    assert started["operator"]["tenants"] == ["globex"]
    devices, _ = _admin(f"{api}/devices", cookie=cookie)
    assert [d["device_id"] for d in devices["items"]] == ["gx4001"]
    # The CLI's token (in the run's secrets) is the platform admin's.
    token = (s.data_dir / "secrets" / "admin-token").read_text().strip()
    request = urllib.request.Request(f"{api}/me", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["role"] == "platform_admin"


def test_every_overview_panel_has_data_after_the_readme_walkthrough(
    stack: DevStackSettings,
) -> None:
    s = stack
    script = walkthrough()
    for default, port in (
        (5060, s.sip_port),
        (7180, s.binding_http_port),
        (7380, s.provision_http_port),
        (9095, s.prometheus_port),
    ):
        script = script.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
    script = script.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    cli = operator_cli_env(
        s.data_dir, s.binding_grpc_port, s.auth_grpc_port, s.provision_grpc_port, s.admin_http_port
    )
    # The one PIN the walk-through types (Carol's) comes from stdin here.
    run = subprocess.run(
        ["bash", "-c", script],
        input="5173\n",
        cwd=ROOT,
        env=os.environ | cli,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    said = run.stdout + run.stderr
    assert "logged in: Carol Example (acme/1003) on hd3003" in said, said
    assert "account.1.label = 1001 Alice Example" in said, said  # logged in by voice
    assert "wrong PIN" in said, said
    # The panel check is the last step: its exit status is the script's.
    assert run.returncode == 0, said
    assert "0 of " in run.stderr and "NO DATA" not in run.stdout, said


def test_the_polycom_screen_logs_gus_in_by_typing_gus(stack: DevStackSettings) -> None:
    """The README's screen login by hot-desk id, against make run: Gus
    (globex) at the acme Polycom hd3003, by typing `gus`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("by typing `gus` (its", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "no sh block after the README's Gus screen login"
    script = match.group(1).replace("127.0.0.1:7380", f"127.0.0.1:{stack.provision_http_port}")
    run = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert "Gus Globex (3001) is logged in" in run.stdout, run.stdout + run.stderr
