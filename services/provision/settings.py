"""Settings of the provision service (environment prefix ``HOTDESK_PROVISION_``)."""

import socket
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class ProvisionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOTDESK_PROVISION_", extra="ignore")

    ops_port: int = 7390
    grpc_port: int = 7300
    # The phone-facing file server (config files and phone-screen pages).
    http_host: str = "127.0.0.1"
    http_port: int = 7380
    # HTTPS when both are set (PEM files); plain HTTP otherwise.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # The base URL phones reach this server at (what DHCP option 66 or the
    # vendor's redirect service points them to); written into the files for
    # resync and the phone-screen keys. Empty: http(s)://http_host:http_port.
    public_url: str = ""
    # The key (a file) of the SIP secrets' encrypted copies in Redis.
    secrets_key_file: Path | None = None
    # Digest realm of the per-device file credentials (user = device id,
    # password = the device's SIP secret).
    digest_realm: str = "hotdesk-provisioning"
    # Nonces older than this are stale (the phone retries with a new one).
    digest_nonce_seconds: int = Field(default=300, gt=0)
    # Failed digests (wrong password, unknown user, forged nonce) on file
    # paths naming a MAC are counted per MAC and per client address over a
    # fixed window; at the limit every request of that MAC or address is
    # answered 429 with Retry-After until the window ends. Counted in Redis,
    # so every instance enforces the same limit. A phone behind a NAT shares
    # the address limit with its neighbours: it is sized for that.
    digest_failures_per_mac: int = Field(default=10, ge=1)
    digest_failures_per_address: int = Field(default=50, ge=1)
    digest_failure_window_seconds: int = Field(default=300, ge=1)
    # Where phones send SIP (written into their files).
    sip_proxy_host: str = "127.0.0.1"
    sip_proxy_port: int = 5060
    # Periodic resync of every phone: the safety net behind check-sync.
    phone_resync_seconds: int = Field(default=86_400, ge=300)
    # How long the phone-screen links in a file stay valid. A phone gets new
    # ones with every file it fetches, at the latest every
    # phone_resync_seconds, so this must be longer than that (the default:
    # twice the default resync). A link is also dead as soon as the device's
    # binding changes (a login or logout since the file was fetched).
    screen_token_seconds: int = Field(default=172_800, ge=600)
    # Rendered device files kept in memory (see rendercache): at most
    # render_cache_entries (the least recently used go), each served for at
    # most render_cache_seconds, so a file's phone-screen links are that
    # much older than the file (screen_token_seconds must cover it too).
    render_cache_entries: int = Field(default=20_000, ge=0)
    render_cache_seconds: int = Field(default=300, ge=0)
    # Device files' makings kept in memory (kernel.tracking: Redis tells
    # this instance when any of their keys changes, and a PING after each
    # request arrived makes sure it has): at most this many (the oldest kept
    # go). 0: every fetch reads Redis. A single Redis only (not a Cluster).
    device_cache_entries: int = Field(default=20_000, ge=0)
    binding_address: str = "127.0.0.1:7100"
    auth_address: str = "127.0.0.1:7200"
    rpc_timeout_seconds: float = Field(default=3.0, gt=0)
    # check-sync NOTIFYs go to the edge, which relays them to the device's
    # registered contact; sent from push_bind_host (an address the edge
    # trusts for pushes, see HD_PUSH_FROM in kamailio.cfg).
    push_edge_host: str = "127.0.0.1"
    push_edge_port: int = 5070
    push_bind_host: str = "127.0.0.1"
    # Pacing: at most push_rate_per_second NOTIFYs, bursts of push_burst,
    # push_max_in_flight waiting for their answer.
    push_rate_per_second: float = Field(default=200.0, gt=0)
    push_burst: int = Field(default=50, ge=1)
    push_max_in_flight: int = Field(default=500, ge=1)
    # A NOTIFY with no final answer after this long counts as a timeout.
    push_timeout_seconds: float = Field(default=8.0, gt=0)
    # This instance's name in the event streams' consumer group: must be
    # stable across restarts (the pod name of a StatefulSet) so that what it
    # had read but not finished is taken up again.
    consumer_name: str = Field(default_factory=socket.gethostname)
    # Entries another (dead) consumer left unfinished this long are claimed.
    consumer_claim_idle_seconds: float = Field(default=60.0, gt=0)
    consumer_batch: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _screen_links_outlive_resync(self) -> "ProvisionSettings":
        if self.screen_token_seconds <= self.phone_resync_seconds + self.render_cache_seconds:
            raise ValueError(
                "screen_token_seconds must be longer than phone_resync_seconds plus "
                "render_cache_seconds (phones would keep expired Login/Logout links until "
                "their next resync)"
            )
        return self
