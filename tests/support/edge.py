"""A whole SIP edge for tests and benchmarks: real Redis with the demo
directory, the binding, auth and voice-menu services as processes, and
Kamailio with the project's kamailio.cfg."""

import contextlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from hotdesk.v1 import binding_pb2 as pb
from hotdesk.v1 import binding_pb2_grpc

from services.devstack.menu_key import ensure_menu_key
from services.kernel import keys
from tests.support import pki
from tests.support.binding_process import BindingProcess
from tests.support.demo import (
    DOMAIN,
    Gateways,
    import_demo_directory,
    import_directory_text,
    registration,
    secret,
)
from tests.support.fleet import PUSH_FROM, PUSH_HOST
from tests.support.kamailio import KamailioServer, free_udp_port
from tests.support.ports import free_media_port
from tests.support.redis_server import RedisServer
from tests.support.service_process import ServiceProcess
from tests.support.services import CHEAP_ARGON2
from tests.support.sipp import PAUSE_MS, SipMessage, Sipp, answered


@dataclass
class Edge:
    redis: RedisServer  # the primary (``url``: the administrator's)
    replica: RedisServer  # what Kamailio reads
    binding: BindingProcess
    auth: ServiceProcess
    menu: ServiceProcess  # the voice menu, SIP on menu_port
    menu_port: int
    menu_key: Path  # the key the edge signs X-Hotdesk-Device with
    kamailio: KamailioServer
    emergency_port: int  # the demo's emergency gateway answers here
    pstn_port: int  # the demo's PSTN gateway answers here ...
    peer_port: int  # ... and calls into the edge from here
    logs: Path

    @property
    def gateways(self) -> Gateways:
        return Gateways(self.emergency_port, self.pstn_port, self.peer_port)

    @property
    def target(self) -> str:
        return self.sip_target()

    def sip_target(self, via: KamailioServer | None = None) -> str:
        """Where SIP goes: the edge's Kamailio, or ``via`` another node."""
        return f"127.0.0.1:{(via or self.kamailio).sip_port}"

    def stub(self) -> binding_pb2_grpc.BindingServiceStub:
        return binding_pb2_grpc.BindingServiceStub(pki.channel(self.binding.grpc_address))

    def menu_calls(self) -> list[dict[str, Any]]:
        """What the menu logged of each call that ended (``menu_call_ended``:
        device, code, extension, outcome, dtmf, rtp_packets), oldest first."""
        lines = self.menu.log_file.read_text().splitlines()
        entries = (json.loads(line) for line in lines if line.startswith("{"))
        return [e for e in entries if e.get("event") == "menu_call_ended"]

    def import_directory(self, text: str, within: float = 10) -> None:
        """Import ``text`` and wait until the binding service routes by it
        and the voice menu answers by it (each reloads the directory within
        a second) and Kamailio has the peers' address list it names."""
        reloads = self.kamailio.counter("hotdesk_peer_reloads_total")
        sources = self._peer_sources()
        version = import_directory_text(
            self.redis.url_as("directory"), text, self.redis.password_file("directory")
        )
        deadline = time.monotonic() + within
        for name, service in (("the binding service", self.binding), ("the voice menu", self.menu)):
            while service.metrics()["hotdesk_directory_version"] < version:
                assert time.monotonic() < deadline, f"{name} did not reload the directory"
                time.sleep(0.1)
        self._wait_replica_synced(deadline)
        # Kamailio's route cache reuses only answers read at the directory
        # version it last read (every second).
        while self.kamailio.gauge("hotdesk_directory_version") < version:
            assert time.monotonic() < deadline, "Kamailio did not read the directory version"
            time.sleep(0.1)
        if self._peer_sources() != sources:
            self.kamailio.wait_for_peer_reload(after=reloads)

    def _wait_replica_synced(self, deadline: float) -> None:
        """Until the replica Kamailio reads has every write the primary has
        (a REGISTER right after an import reads what the device's emergency
        data is from there; a busy machine lets the replica lag)."""
        with redis.Redis.from_url(self.redis.url) as primary:
            wanted = int(primary.info("replication")["master_repl_offset"])
            while int(primary.info("replication")["slave0"]["offset"]) < wanted:
                assert time.monotonic() < deadline, "the replica did not catch up"
                time.sleep(0.05)

    def _peer_sources(self) -> str | None:
        with redis.Redis.from_url(self.redis.url, decode_responses=True) as client:
            digest: str | None = client.hget(keys.DIR_PEER_SOURCES, "digest")
            return digest

    def login(self, device: str, ext: str, takeover: bool = False) -> pb.LoginResponse:
        r: pb.LoginResponse = self.stub().Login(
            pb.LoginRequest(
                device_id=device,
                user=pb.UserRef(tenant="acme", extension=ext),
                allow_takeover=takeover,
                actor="test",
            )
        )
        return r

    def logout_all(self) -> None:
        stub = self.stub()
        for d in stub.List(pb.ListRequest()).devices:
            stub.Logout(pb.LogoutRequest(device_id=d.device_id, actor="test"))

    def register(
        self,
        name: str,
        device: str,
        *,
        contact_port: int,
        password: str | None = None,
        via: KamailioServer | None = None,
    ) -> Sipp:
        """``device`` registers ``contact_port`` at the edge's Kamailio (or
        ``via`` another)."""
        return registration(
            (via or self.kamailio).sip_port,
            device,
            contact_port=contact_port,
            log_dir=self.logs,
            name=name,
            password=password,
        )

    def phone(
        self, name: str, device: str, scenario: str = "answer", via: KamailioServer | None = None
    ) -> Sipp:
        """A desk phone: its ringing half listens, then it registers there
        (at ``via`` if given). Returns the ringing half (wait() for the call
        it answers); with ``scenario`` "ring" it never answers, with
        "accept" it takes a MESSAGE or NOTIFY."""
        port = free_udp_port()
        ringing = Sipp(scenario, None, self.logs, name=f"{name}-ringing", local_port=port).start()
        registration = self.register(f"{name}-register", device, contact_port=port, via=via)
        if registration.run() != 0 or registration.final_status() != 200:
            ringing.stop()
            raise AssertionError(f"{device} did not register: {registration.messages}")
        return ringing

    def call(
        self,
        name: str,
        device: str,
        number: str,
        *,
        password: str | None = None,
        auth_user: str | None = None,
        extra_header: str = "X-Test: none",
        talk_ms: int = PAUSE_MS,
        via: KamailioServer | None = None,
    ) -> Sipp:
        """``talk_ms``: from the ACK to the BYE of an answered call."""
        return self.from_phone(
            name,
            device,
            "call",
            number,
            keys={"extra_header": extra_header},
            auth=(auth_user, password) if auth_user or password else None,
            pause_ms=talk_ms,
            via=via,
        )

    def dial(
        self,
        device: str,
        number: str,
        path: Path,
        name: str,
        via: KamailioServer | None = None,
        domain: str = DOMAIN,
    ) -> Sipp:
        """Desk phone ``device`` (of ``domain``) calls the voice menu's
        ``number`` with the scenario at ``path`` (tests/support/menu_calls.py),
        its RTP on a port of its own, long enough for the prompts."""
        return self.from_phone(
            name,
            device,
            path,
            number,
            domain=domain,
            target_domain=domain,
            timeout_s=40,
            media_port=free_media_port(),
            via=via,
        )

    def gateway(self, name: str, port: int, scenario: str = "answer") -> Sipp:
        return Sipp(scenario, None, self.logs, name=name, local_port=port)

    def another_kamailio(self, run_dir: Path, **options: Any) -> KamailioServer:
        """A further Kamailio (not started) on this edge's Redis replica,
        binding service and voice menu; ``options`` are KamailioServer's (its
        own gateways are the discard port unless given)."""
        settings: dict[str, Any] = {
            "redis": self.replica,
            "binding_url": self.binding.route_url,
            "emergency_gw": "sip:127.0.0.1:9",
            "pstn_gw": "sip:127.0.0.1:9",
            "voice_menu": f"sip:127.0.0.1:{self.menu_port}",
            "menu_key": self.menu_key,
        }
        return KamailioServer(run_dir, **(settings | options))

    @contextmanager
    def running_kamailio(self, run_dir: Path, **options: Any) -> Iterator[KamailioServer]:
        """``another_kamailio``, started and with the peers' list loaded;
        stopped afterwards."""
        node = self.another_kamailio(run_dir, **options)
        try:
            node.start()
            node.wait_for_peer_reload()
            yield node
        finally:
            node.stop()

    def provision(
        self, log_file: Path, consumer: str, env: dict[str, str] | None = None
    ) -> ServiceProcess:
        """The provision service (not started) on this edge, as its own Redis
        ACL user as in `make run`, pushing through this edge's Kamailio;
        ``consumer`` names it in the event streams' consumer group, ``env``
        adds or overrides its settings."""
        return ServiceProcess(
            "provision",
            self.redis.url_as("provision"),
            log_file,
            ("grpc", "http"),
            {
                "HOTDESK_PROVISION_BINDING_ADDRESS": self.binding.grpc_address,
                "HOTDESK_PROVISION_SIP_PROXY_PORT": str(self.kamailio.sip_port),
                "HOTDESK_PROVISION_PUSH_EDGE_PORT": str(self.kamailio.push_port),
                "HOTDESK_PROVISION_PUSH_BIND_HOST": PUSH_HOST,
                "HOTDESK_PROVISION_PUSH_TIMEOUT_SECONDS": "2",
                "HOTDESK_PROVISION_CONSUMER_NAME": consumer,
                **(env or {}),
            },
            redis_password_file=self.redis.password_file("provision"),
        )

    def arrival(self, gateway: str, gateway_port: int, call: Sipp) -> SipMessage:
        """Run ``call`` (it must complete) with ``gateway`` answering on
        ``gateway_port``; the INVITE that arrived there."""
        (invite,) = answered(call, self.gateway(gateway, gateway_port)).received("INVITE")
        return invite

    def from_peer(
        self,
        name: str,
        number: str,
        *,
        scenario: str = "peer_call",
        local_port: int | None = None,
        caller: str = "+4915112345678",
        extra_header: str = "X-Test: none",
        via: KamailioServer | None = None,
    ) -> Sipp:
        """The demo PSTN gateway (from its own address unless
        ``local_port``) sends ``scenario`` to ``number``: no credentials;
        to the edge's Kamailio, or ``via`` another."""
        return Sipp(
            scenario,
            self.sip_target(via),
            self.logs,
            name=name,
            local_port=local_port or self.peer_port,
            service=number,
            keys={
                "domain": DOMAIN,
                "caller": caller,
                "extra_header": extra_header,
            },
        )

    def from_phone(
        self,
        name: str,
        device: str,
        scenario: str | Path,
        service: str,
        *,
        domain: str = DOMAIN,
        target_domain: str = DOMAIN,
        keys: dict[str, str] | None = None,
        auth: tuple[str | None, str | None] | None = None,
        timeout_s: int = 20,
        media_port: int | None = None,
        local_ip: str = "127.0.0.1",
        via: KamailioServer | None = None,
        pause_ms: int = PAUSE_MS,
    ) -> Sipp:
        """Desk phone ``device`` of ``domain`` plays ``scenario`` towards
        ``service`` (in ``target_domain`` where the scenario says so),
        answering the edge's challenge with its credentials (or ``auth``:
        another user name and/or password), from ``local_ip``, through the
        edge's Kamailio (or ``via`` another)."""
        user, password = auth or (None, None)
        user = user or device
        return Sipp(
            scenario,
            self.sip_target(via),
            self.logs,
            name=name,
            local_port=free_udp_port(),
            service=service,
            keys={"user": device, "domain": domain, "target_domain": target_domain} | (keys or {}),
            auth=(user, password or secret(user)),
            timeout_s=timeout_s,
            media_port=media_port,
            local_ip=local_ip,
            pause_ms=pause_ms,
        )


@contextmanager
def edge_stack(
    root: Path,
    service_env: dict[str, str] | None = None,
    kamailio_limits: dict[str, int] | None = None,
) -> Iterator[Edge]:
    """The whole edge under ``root``; ``service_env`` adds or overrides the
    auth and menu services' settings (``HOTDESK_AUTH_...``,
    ``HOTDESK_MENU_...``), ``kamailio_limits``
    kamailio.cfg's limits (``HD_MAX_CONTACTS``, ...)."""
    # Every component as its own Redis ACL user, Kamailio on the read-only
    # replica, as in `make run`. Each is stopped however far the start got.
    with contextlib.ExitStack() as running:
        redis = RedisServer(root / "redis", acl=True)
        running.callback(redis.kill)
        redis.start()
        replica = redis.replica(root / "redis-replica")
        running.callback(replica.kill)
        replica.start()
        gateways = Gateways(free_udp_port(), free_udp_port(), free_udp_port())
        import_demo_directory(redis.url_as("directory"), gateways, redis.password_file("directory"))
        binding = BindingProcess(
            redis.url_as("binding"), root / "binding.log", redis.password_file("binding")
        )
        running.callback(binding.stop)
        binding.start()
        auth = ServiceProcess(
            "auth",
            redis.url_as("auth"),
            root / "auth.log",
            ("grpc",),
            {
                "HOTDESK_AUTH_BINDING_ADDRESS": binding.grpc_address,
                **{f"HOTDESK_AUTH_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
                **(service_env or {}),
            },
            redis_password_file=redis.password_file("auth"),
        )
        running.callback(auth.stop)
        auth.start()
        menu_port = free_udp_port()
        menu_key = ensure_menu_key(root / "menu.key")
        menu = ServiceProcess(
            "menu",
            redis.url_as("menu"),
            root / "menu.log",
            ("grpc",),
            {
                "HOTDESK_MENU_AUTH_ADDRESS": auth.grpc_address,
                "HOTDESK_MENU_BINDING_ADDRESS": binding.grpc_address,
                "HOTDESK_MENU_SIP_PORT": str(menu_port),
                "HOTDESK_MENU_KEY_FILE": str(menu_key),
                "HOTDESK_MENU_ANSWER_AFTER_SECONDS": "0.5",
                "HOTDESK_MENU_FIRST_DIGIT_SECONDS": "4",
                "HOTDESK_MENU_INTER_DIGIT_SECONDS": "2",
                "HOTDESK_MENU_LOG_FORMAT": "json",  # for menu_calls()
                **(service_env or {}),
            },
            redis_password_file=redis.password_file("menu"),
        )
        running.callback(menu.stop)
        menu.start()
        # The edge's own gateways (for tenants without routes, and emergency
        # calls when the lookup fails) are the demo's, as in `make run`.
        kamailio = KamailioServer(
            root / "kamailio",
            redis=replica,
            binding_url=binding.route_url,
            emergency_gw=f"sip:127.0.0.1:{gateways.emergency}",
            pstn_gw=f"sip:127.0.0.1:{gateways.pstn}",
            push_from=PUSH_FROM,
            voice_menu=f"sip:127.0.0.1:{menu_port}",
            menu_key=menu_key,
            limits=kamailio_limits,
        )
        running.callback(kamailio.stop)
        kamailio.start()
        kamailio.wait_for_peer_reload()
        yield Edge(
            redis,
            replica,
            binding,
            auth,
            menu,
            menu_port,
            menu_key,
            kamailio,
            gateways.emergency,
            gateways.pstn,
            gateways.pstn_source,
            root / "sipp",
        )
