"""Desk phones calling the voice menu through the edge: sipp scenarios built
per test from steps (DTMF as RFC 4733 packets replayed from the sip-tester
package's captures, or as SIP INFO; pauses; how the call ends)."""

import itertools
import statistics
import struct
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from tests.support.demo import DOMAIN, secret
from tests.support.kamailio import free_udp_port
from tests.support.udp_listener import UdpListener

CAPTURES = Path("/usr/share/sip-tester")
_EVENT = {"*": 10, "#": 11}

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="menu call">
"""

_INVITE = """  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: "Desk Phone" <sip:[user]@[domain]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:[user]@[local_ip]:[local_port]>
      {auth}
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP4 {media_ip}
      t=0 0
      m=audio {rtp_port} RTP/AVP {codec} 101
      a=rtpmap:{codec} {codec_name}/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
"""

_ACK_AFTER_407 = """  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: "Desk Phone" <sip:[user]@[domain]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[domain]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
"""

_IN_DIALOG = """  <send retrans="500">
    <![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      Max-Forwards: 70
      From: "Desk Phone" <sip:[user]@[domain]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[domain]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      {headers}
      Content-Length: [len]
{body}
    ]]>
  </send>
"""

_ACK_200 = """  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      Max-Forwards: 70
      From: "Desk Phone" <sip:[user]@[domain]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[domain]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Content-Length: 0

    ]]>
  </send>
"""

_AWAIT_BYE = """  <recv request="BYE" timeout="{timeout}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

# A CANCEL and the ACK of the 487 carry the INVITE's branch: [branch-N]
# names the branch of the message N scenario steps before. The edge answers
# the CANCEL itself, so its 200 and the menu's 487 may come in either order.
_CANCEL = """  <send>
    <![CDATA[
      CANCEL sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      Max-Forwards: 70
      From: "Desk Phone" <sip:[user]@[domain]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: 2 CANCEL
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" optional="true"/>
  <recv response="487"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-7]
      Max-Forwards: 70
      From: "Desk Phone" <sip:[user]@[domain]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[domain]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Content-Length: 0

    ]]>
  </send>
"""


def capture(digit: str, folder: Path) -> Path:
    """The RFC 4733 capture of a digit: the package's for 0-9; * and # are
    made from the 0 capture with the event code changed (UDP checksum
    cleared, which IPv4 allows)."""
    if digit.isdigit():
        return CAPTURES / f"dtmf_2833_{digit}.pcap"
    made = folder / f"dtmf_2833_{'star' if digit == '*' else 'pound'}.pcap"
    if not made.exists():
        data = bytearray((CAPTURES / "dtmf_2833_0.pcap").read_bytes())
        offset = 24
        while offset < len(data):
            included = struct.unpack_from("<I", data, offset + 8)[0]
            packet = offset + 16
            data[packet + 40 : packet + 42] = b"\x00\x00"  # UDP checksum
            data[packet + 42 + 12] = _EVENT[digit]  # the event code
            offset = packet + included
        made.write_bytes(bytes(data))
    return made


def scenario(
    steps: list[str],
    folder: Path,
    *,
    end: str = "bye",
    rtp_port: str = "[media_port]",
    codec: int = 0,
    media_ip: str = "[local_ip]",
) -> Path:
    """Write a scenario and return its path. Steps: ``dtmf:<digits>``
    (RFC 4733), ``info:<digits>`` (SIP INFO), ``pause:<ms>``, ``reinvite:hold``
    / ``reinvite:resume``. ``end``: "bye" (wait for the menu to hang up),
    "hangup" (the phone hangs up), "cancel" (give up while it rings).
    ``media_ip`` and ``rtp_port``: where the offer says to send media."""
    name = "PCMU" if codec == 0 else "PCMA"
    parts = [
        _HEAD,
        _INVITE.format(
            cseq=1, auth="", rtp_port=rtp_port, codec=codec, codec_name=name, media_ip=media_ip
        ),
        _ACK_AFTER_407,
        _INVITE.format(
            cseq=2,
            auth="[authentication]",
            rtp_port=rtp_port,
            codec=codec,
            codec_name=name,
            media_ip=media_ip,
        ),
        '  <recv response="100" optional="true"/>\n',
    ]
    if end == "cancel":
        parts += ['  <recv response="180"/>\n', '  <pause milliseconds="200"/>\n', _CANCEL]
        return _write(folder, parts)
    parts += [
        '  <recv response="180" optional="true"/>\n',
        '  <recv response="200" rrs="true"/>\n',
        _ACK_200,
        '  <pause milliseconds="300"/>\n',
    ]
    cseq = 3
    for step in steps:
        kind, _, value = step.partition(":")
        if kind == "pause":
            parts.append(f'  <pause milliseconds="{int(value)}"/>\n')
        elif kind == "dtmf":
            for digit in value:
                path = capture(digit, folder)
                parts.append(
                    f'  <nop><action><exec play_pcap_audio="{path}"/></action></nop>\n'
                    '  <pause milliseconds="250"/>\n'
                )
        elif kind == "info":
            for digit in value:
                body = f"\n      Signal={digit}\n      Duration=160\n"
                parts.append(
                    _IN_DIALOG.format(
                        method="INFO",
                        cseq=cseq,
                        headers="Content-Type: application/dtmf-relay",
                        body=body,
                    )
                )
                parts.append('  <recv response="200"/>\n')
                cseq += 1
        elif kind == "reinvite":
            direction = "sendonly" if value == "hold" else "sendrecv"
            body = (
                "\n      v=0\n      o=phone 1 2 IN IP4 [local_ip]\n      s=-\n"
                "      c=IN IP4 [local_ip]\n      t=0 0\n"
                f"      m=audio {rtp_port} RTP/AVP {codec} 101\n"
                f"      a=rtpmap:{codec} {name}/8000\n"
                "      a=rtpmap:101 telephone-event/8000\n"
                f"      a={direction}\n"
            )
            parts.append(
                _IN_DIALOG.format(
                    method="INVITE", cseq=cseq, headers="Content-Type: application/sdp", body=body
                )
            )
            parts.append('  <recv response="100" optional="true"/>\n')
            parts.append('  <recv response="200"/>\n')
            parts.append(_ACK_200.replace("CSeq: 2 ACK", f"CSeq: {cseq} ACK"))
            cseq += 1
        else:
            raise ValueError(f"unknown step {step!r}")
    if end == "bye":
        parts.append(_AWAIT_BYE.format(timeout=40000))
    else:
        parts.append(
            _IN_DIALOG.format(method="BYE", cseq=cseq, headers="", body="")
            + '  <recv response="200"/>\n'
        )
    return _write(folder, parts)


def _write(folder: Path, parts: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"menu-{len(list(folder.glob('menu-*.xml')))}.xml"
    path.write_text("".join(parts) + "</scenario>\n")
    return path


class RtpReceiver(UdpListener):
    """One UDP socket taking the prompt RTP of many calls, recording each
    packet's arrival, sequence number and payload by SSRC."""

    def __init__(self) -> None:
        super().__init__(receive_buffer=4 << 20)
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.sequences: dict[int, list[int]] = defaultdict(list)
        self.payloads: dict[int, list[bytes]] = defaultdict(list)

    def handle(self, data: bytes, addr: tuple[str, int], at: float) -> None:
        if len(data) >= 12:
            seq, ssrc = struct.unpack_from("!H4xI", data, 2)
            self.arrivals[ssrc].append(at)
            self.sequences[ssrc].append(seq)
            self.payloads[ssrc].append(data[12:])

    def median_spacings_ms(self, gap: float = 0.1) -> list[float]:
        """Each stream's median spacing between consecutive packets (pauses
        between prompts, over ``gap``, left out): its pace, which jitter
        does not move."""
        paces = []
        for times in self.arrivals.values():
            spacings = [b - a for a, b in itertools.pairwise(times) if b - a < gap]
            paces.append(statistics.median(spacings) * 1000)
        return paces

    def spacing_errors_ms(self, gap: float = 0.1) -> list[float]:
        """|spacing - 20 ms| between consecutive packets of each stream
        (spacings over ``gap`` are pauses between prompts, not pacing)."""
        errors = []
        for times in self.arrivals.values():
            for a, b in itertools.pairwise(times):
                if b - a < gap:
                    errors.append(abs((b - a) - 0.020) * 1000)
        return errors


def concurrent_calls(
    target: str, calls: int, folder: Path, *, seconds: float = 3.0
) -> tuple[RtpReceiver, float]:
    """``calls`` phones (all as hd3001) dial *45 within about a second and
    listen to the first prompt for ``seconds``, then hang up; their prompt
    RTP goes to one receiver. Returns it and how long the run took."""
    folder.mkdir(parents=True, exist_ok=True)
    with RtpReceiver() as rtp:
        path = scenario(
            [f"pause:{int(seconds * 1000)}"], folder, end="hangup", rtp_port=str(rtp.port)
        )
        errors = folder / f"concurrent-{calls}.errors.log"
        argv = [
            *("sipp", target, "-sf", str(path), "-m", str(calls), "-l", str(calls)),
            *("-r", str(max(calls, 1)), "-i", "127.0.0.1"),
            *("-p", str(free_udp_port()), "-mp", str(free_udp_port())),
            *("-s", "*45", "-key", "user", "hd3001", "-key", "domain", DOMAIN),
            *("-au", "hd3001", "-ap", secret("hd3001"), "-nostdin", "-timeout", "60s"),
            *("-timeout_error", "-trace_err", "-error_file", str(errors)),
        ]
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, timeout=90)
        took = time.monotonic() - started
        time.sleep(0.3)
    if done.returncode != 0:
        raise RuntimeError(errors.read_text()[-2000:] if errors.exists() else done.stderr)
    return rtp, took
