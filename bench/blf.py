"""Busy lamps: a call's state change -> the dialog-info NOTIFY at a
watcher. Alice (hd3001) calls Bob (hd3002) over and over, one call at a
time; a BLF key on Bob (a sipp watcher) takes every NOTIFY. Timed from
sipp's message logs (microsecond stamps, one clock): Bob's phone sending
180 / 200 -> the early / confirmed NOTIFY arriving, Alice's phone sending
BYE -> the terminated NOTIFY arriving.
"""

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.edge_calls import answering_phone, register, stack
from tests.support.demo import DOMAIN, caller_argv, secret
from tests.support.kamailio import free_udp_port
from tests.support.sipp import SCENARIOS, SipMessage, parse_message_log

_DIALOG = re.compile(r'<dialog [^>]*call-id="([^"]+)"[^>]*>\s*<state>(\w+)</state>')


@dataclass(frozen=True)
class BlfLatency:
    calls: int
    early_ms: list[float]
    confirmed_ms: list[float]
    terminated_ms: list[float]


def _messages(log: Path) -> list[SipMessage]:
    return parse_message_log(log.read_text(errors="replace")) if log.exists() else []


def _first_states(watcher_log: Path) -> dict[tuple[str, str], datetime]:
    """When the watcher first heard each (Call-ID, state)."""
    seen: dict[tuple[str, str], datetime] = {}
    for m in _messages(watcher_log):
        if m.direction == "received" and m.method == "NOTIFY" and m.at is not None:
            for call_id, state in _DIALOG.findall(m.body):
                seen.setdefault((call_id, state), m.at)
    return seen


def _sent(log: Path, start_line: str, cseq_method: str) -> dict[str, datetime]:
    """When each call's message starting with ``start_line`` was sent."""
    out: dict[str, datetime] = {}
    for m in _messages(log):
        cseq = m.header("CSeq") or ""
        if (
            m.direction == "sent"
            and m.start_line.startswith(start_line)
            and cseq.endswith(cseq_method)
            and m.at is not None
        ):
            out.setdefault(m.header("Call-ID") or "", m.at)
    return out


def measure(calls: int) -> BlfLatency:
    with stack() as st:
        kamailio = st.edge("kamailio-blf")
        kamailio.start()
        phone_log, caller_log, watcher_log = (
            st.work / "bob.log",
            st.work / "alice.log",
            st.work / "lamp.log",
        )
        port = free_udp_port()
        phone = answering_phone(port, "-trace_msg", "-message_file", str(phone_log))
        watcher = subprocess.Popen(
            [
                *(
                    "sipp",
                    f"127.0.0.1:{kamailio.sip_port}",
                    "-sf",
                    str(SCENARIOS / "subscribe.xml"),
                ),
                *("-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", "1", "-s", "1002"),
                *("-key", "user", "hd3003", "-key", "domain", DOMAIN),
                *("-key", "target_domain", DOMAIN, "-au", "hd3003", "-ap", secret("hd3003")),
                *("-nostdin", "-trace_msg", "-message_file", str(watcher_log)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            register(kamailio, "hd3002", port)
            st.login("hd3001", "1001")
            st.login("hd3002", "1002")
            deadline = time.monotonic() + 10
            while "NOTIFY" not in _text(watcher_log):
                if time.monotonic() > deadline:
                    raise RuntimeError("the BLF watcher got no NOTIFY")
                time.sleep(0.1)
            subprocess.run(
                [
                    *caller_argv(kamailio.sip_port, SCENARIOS / "call.xml", "1002"),
                    *("-m", str(calls), "-l", "1", "-r", "5"),
                    *("-key", "extra_header", "X-Bench: blf", "-timeout", "120s"),
                    *("-trace_msg", "-message_file", str(caller_log)),
                ],
                check=False,
                timeout=calls + 60,
                cwd=st.work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)  # the last terminated NOTIFY
        finally:
            for proc in (watcher, phone):
                proc.kill()
                proc.wait()
            kamailio.stop()
        heard = _first_states(watcher_log)

        def latencies(sent: dict[str, datetime], state: str) -> list[float]:
            return [
                (heard[(call_id, state)] - at).total_seconds() * 1000
                for call_id, at in sent.items()
                if (call_id, state) in heard
            ]

        return BlfLatency(
            calls,
            latencies(_sent(phone_log, "SIP/2.0 180", "INVITE"), "early"),
            latencies(_sent(phone_log, "SIP/2.0 200", "INVITE"), "confirmed"),
            latencies(_sent(caller_log, "BYE ", "BYE"), "terminated"),
        )


def _text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""
