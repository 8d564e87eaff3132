"""sipp as the phones and gateways of end-to-end tests, and what they saw.

Every run writes sipp's message log; ``SipMessage`` parses it so a test can
assert on exactly what arrived (start line, headers and body).
"""

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "sip"
# A scenario's <pause/> without a length: how long call.xml's call lasts.
PAUSE_MS = 100


@dataclass(frozen=True)
class SipMessage:
    direction: str  # "sent" or "received"
    start_line: str
    headers: dict[str, list[str]]
    at: datetime | None = None  # when sipp logged it (microseconds)
    body: str = ""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def status(self) -> int | None:
        match = re.match(r"SIP/2\.0 (\d{3})", self.start_line)
        return int(match.group(1)) if match else None

    @property
    def method(self) -> str | None:
        return None if self.start_line.startswith("SIP/2.0") else self.start_line.split()[0]


_BLOCK = re.compile(r"^-{20,} *(\S+ \S+)?\s*$", re.M)


def _stamp(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f") if text else None
    except ValueError:
        return None


def parse_message_log(text: str) -> list[SipMessage]:
    messages = []
    parts = _BLOCK.split(text)
    # re.split with one group: [before, stamp1, block1, stamp2, block2, ...]
    for stamp, block in zip(parts[1::2], parts[2::2], strict=True):
        lines = block.strip("\n").splitlines()
        if len(lines) < 3:
            continue
        kind = lines[0]
        if "message received" in kind:
            direction = "received"
        elif "message sent" in kind:
            direction = "sent"
        else:
            continue
        body = [ln.rstrip("\r") for ln in lines[1:]]
        while body and not body[0].strip():
            body.pop(0)
        if not body:
            continue
        headers: dict[str, list[str]] = {}
        rest = body[1:]
        for index, line in enumerate(rest):
            if not line.strip():
                content = "\n".join(rest[index + 1 :]).strip()
                break
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        else:
            content = ""
        messages.append(SipMessage(direction, body[0].strip(), headers, _stamp(stamp), content))
    return messages


class Sipp:
    """One sipp process playing one scenario once."""

    def __init__(
        self,
        scenario: str | Path,
        target: str | None,
        log_dir: Path,
        *,
        name: str,
        local_port: int,
        service: str = "s",
        keys: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout_s: int = 20,
        media_port: int | None = None,
        local_ip: str = "127.0.0.1",
        pause_ms: int = PAUSE_MS,
    ) -> None:
        """``pause_ms``: a scenario's ``<pause/>`` without a length (how long
        call.xml's call lasts before its BYE)."""
        log_dir.mkdir(parents=True, exist_ok=True)
        self.message_file = log_dir / f"{name}.messages.log"
        argv = [
            "sipp",
            *([target] if target else []),
            "-m",
            "1",
            "-l",
            "1",
            "-i",
            local_ip,
            "-p",
            str(local_port),
            "-s",
            service,
            "-nostdin",
            "-timeout",
            f"{timeout_s}s",
            "-timeout_error",
            "-d",
            str(pause_ms),
            "-trace_msg",
            "-message_file",
            str(self.message_file),
            "-trace_err",
            "-error_file",
            str(log_dir / f"{name}.errors.log"),
        ]
        if isinstance(scenario, Path):
            argv += ["-sf", str(scenario)]
        elif scenario in ("uas", "uac"):
            argv += ["-sn", scenario]
        else:
            argv += ["-sf", str(SCENARIOS / f"{scenario}.xml")]
        if media_port is not None:
            argv += ["-mp", str(media_port)]
        for key, value in (keys or {}).items():
            argv += ["-key", key, value]
        if auth:
            argv += ["-au", auth[0], "-ap", auth[1]]
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Sipp":
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def run(self) -> int:
        return self.start().wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def messages(self) -> list[SipMessage]:
        if not self.message_file.exists():
            return []
        return parse_message_log(self.message_file.read_text(errors="replace"))

    def received(self, method_or_status: str | int) -> list[SipMessage]:
        return [
            m
            for m in self.messages
            if m.direction == "received"
            and (m.method == method_or_status or m.status == method_or_status)
        ]

    def final_status(self) -> int | None:
        """The last final (>= 200) response sipp received."""
        finals = [
            m.status
            for m in self.messages
            if m.direction == "received" and m.status and m.status >= 200
        ]
        return finals[-1] if finals else None


def answered(call: Sipp, answering: Sipp) -> Sipp:
    """Run ``call`` (it must complete with 200) while ``answering`` takes
    it (started here, and done when this returns: read what it received)."""
    answering.start()
    try:
        assert call.run() == 0
        assert call.final_status() == 200
        assert answering.wait() == 0
    finally:
        answering.stop()
    return answering
