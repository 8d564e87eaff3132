"""Settings of the voice-menu service (environment prefix ``HOTDESK_MENU_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class MenuSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_MENU_", extra="ignore")

    ops_port: int = 7270
    # gRPC serves health only (the menu has no API of its own).
    grpc_port: int = 7250
    # The PIN authority (VerifyPin) and the binding service (sessions).
    auth_address: str = "127.0.0.1:7200"
    binding_address: str = "127.0.0.1:7100"
    # Deadline of each call to auth or binding (UNAVAILABLE past it: the
    # caller hears "unavailable").
    rpc_timeout_seconds: float = Field(default=3.0, gt=0)
    # SIP (UDP) on sip_host:sip_port, RTP on free ports of sip_host;
    # advertise is the address put in Contact and SDP (the pod's IP when
    # sip_host is 0.0.0.0). Only requests from trusted_edges (the Kamailio
    # edge: comma-separated addresses or networks) are served: they carry
    # the authenticated device in X-Hotdesk-Device. sip_port 0: a free port.
    sip_host: str = "127.0.0.1"
    sip_port: int = 7260
    advertise: str = ""
    trusted_edges: str = "127.0.0.1"
    # The key Kamailio signs X-Hotdesk-Device with (64 hex characters in a
    # file, read at start); a call whose signature is wrong or older than
    # signature_max_age_seconds is refused. Required: there is no unsigned
    # mode.
    key_file: Path | None = None
    signature_max_age_seconds: float = Field(default=30.0, gt=0)
    # Calls at once: per device (486 Busy Here beyond; a desk phone has one
    # or two lines) and in total (503 with Retry-After beyond).
    max_calls_per_device: int = Field(default=2, ge=1)
    max_calls: int = Field(default=200, ge=1)
    prompts_dir: Path = Path(__file__).resolve().parents[2] / ".cache" / "prompts"
    # Ring this long before answering (0: answer at once).
    answer_after_seconds: float = Field(default=0.0, ge=0)
    # Waiting for the first digit of an answer, and between digits.
    first_digit_seconds: float = Field(default=10.0, gt=0)
    inter_digit_seconds: float = Field(default=5.0, gt=0)
    # PIN tries per call; every call ends by itself after max_call_seconds.
    tries: int = Field(default=3, ge=1)
    max_call_seconds: float = Field(default=120.0, gt=0)
