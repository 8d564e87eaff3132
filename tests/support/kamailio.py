"""The project's kamailio.cfg run by the real Kamailio, on free ports."""

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "kamailio" / "kamailio.cfg"
MODULES = ROOT / ".cache" / "kamailio" / "modules"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def local_config(defines: dict[str, str], switches: list[str]) -> str:
    """kamailio-local.cfg: #!define switches and #!substdef addresses."""
    lines = [f"#!define {name}" for name in switches]
    lines += [f'#!substdef "!{name}!{value}!g"' for name, value in defines.items()]
    return "\n".join(lines) + "\n"


class KamailioServer:
    def __init__(
        self,
        run_dir: Path,
        *,
        redis_port: int,
        binding_url: str,
        emergency_gw: str,
        pstn_gw: str,
        hotdesk: bool = True,
        timeout_ms: int = 800,
    ) -> None:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        if not Path(binary).exists():
            raise RuntimeError("kamailio is not installed; run `make bootstrap`")
        self.binary = binary
        self.run_dir = run_dir
        self.sip_port = free_udp_port()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.http_port = s.getsockname()[1]
        self.defines = {
            "HD_LISTEN": f"udp:127.0.0.1:{self.sip_port}",
            "HD_HTTP_LISTEN": f"tcp:127.0.0.1:{self.http_port}",
            "HD_REDIS": f"name=hd;addr=127.0.0.1;port={redis_port}",
            "HD_BINDING_URL": binding_url,
            "HD_BINDING_TIMEOUT": str(timeout_ms),
            "HD_MODULES": str(MODULES),
            "HD_EMERGENCY_GW": emergency_gw,
            "HD_PSTN_GW": pstn_gw,
        }
        self.switches = ["WITH_HOTDESK"] if hotdesk else []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        return (self.run_dir / "kamailio.log").read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as r:
            text: str = r.read().decode()
            return text

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "kamailio-local.cfg").write_text(local_config(self.defines, self.switches))
        log = (self.run_dir / "kamailio.log").open("wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "-DD",
                "-E",
                "-f",
                str(CONFIG),
                "-Y",
                str(self.run_dir),
                "-P",
                str(self.run_dir / "kamailio.pid"),
                "-m",
                "64",
                "-M",
                "8",
            ],
            cwd=self.run_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited:\n{self.log[-3000:]}")
            try:
                self.metrics()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kamailio did not start:\n{self.log[-3000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
