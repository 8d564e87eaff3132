"""The Kubernetes manifests agree with the services' settings (every
variable they set exists, the ports they expose are the ones set) and hold
the platform's rules: restricted pods, pinned images, disruption budgets,
default-deny network policies with only the flows the configuration needs,
and secrets only from where the contracts say. Every rule holds for both
overlays (deploy/k8s/overlays/dev and production, as kustomize builds them);
production's own rules (a Kamailio cluster, spread replicas, autoscaling,
Redis Cluster) follow them, and both builds are valid Kubernetes objects of
the last three minor versions."""

import copy
import functools
import hashlib
import ipaddress
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import redis
import yaml
from pydantic_settings import BaseSettings

from services.admin.settings import AdminSettings
from services.auth.settings import AuthSettings
from services.binding.settings import BindingSettings
from services.cli.settings import CliSettings
from services.devstack import prometheus_rule, redis_acl
from services.devstack.kamailio import EdgeAddresses, local_config
from services.kernel import keys
from services.menu.settings import MenuSettings
from services.provision.settings import ProvisionSettings
from tests.support.ports import free_port

ROOT = Path(__file__).parents[1]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
# The dashboards' ConfigMap, generated from deploy/monitoring/dashboards.
MONITORING = ROOT / "deploy" / "monitoring"
OVERLAYS = ("dev", "production")
Manifest = dict[str, Any]


def _kustomization(directory: Path) -> Manifest:
    return yaml.safe_load((directory / "kustomization.yaml").read_text())  # type: ignore[no-any-return]


def _declared(directory: Path) -> list[Manifest]:
    """The documents a kustomization declares, its bases' too (not its
    patches), read without kustomize: for the test ids."""
    kustomization = _kustomization(directory)
    docs = [d for base in kustomization.get("bases", []) for d in _declared(directory / base)]
    for resource in kustomization.get("resources", []):
        docs += [d for d in yaml.safe_load_all((directory / resource).read_text()) if d]
    return docs


@pytest.mark.parametrize(
    ("name", "settings", "prefix"),
    [
        ("binding", BindingSettings, "HOTDESK_BINDING_"),
        ("auth", AuthSettings, "HOTDESK_AUTH_"),
        ("menu", MenuSettings, "HOTDESK_MENU_"),
        ("provision", ProvisionSettings, "HOTDESK_PROVISION_"),
        ("admin", AdminSettings, "HOTDESK_ADMIN_"),
    ],
)
def test_manifest_env_and_ports_match_settings(
    built: list[Manifest], name: str, settings: type[BaseSettings], prefix: str
) -> None:
    (container,) = _pod(_workload(built, name))["spec"]["containers"]
    env = {e["name"]: e.get("value", "from the pod") for e in container["env"]}
    for var in env:
        assert var.startswith(prefix), var
        setting = var.removeprefix(prefix).lower()
        assert setting in settings.model_fields, var
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port_name, number in ports.items():
        assert env[f"{prefix}{port_name.upper()}_PORT"] == str(number)
    assert container["args"] == [f"services.{name}"]
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/readyz", "ops")


@pytest.mark.parametrize("directory", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_kustomization_lists_every_manifest(directory: str) -> None:
    """Every file of a kustomization's folder is a resource or a patch of it."""
    kustomization = _kustomization(K8S / directory)
    listed = {*kustomization.get("resources", []), *kustomization.get("patchesStrategicMerge", [])}
    assert listed == {p.name for p in (K8S / directory).glob("*.yaml")} - {"kustomization.yaml"}
    for base in kustomization.get("bases", []):
        assert (K8S / directory / base).resolve() in {BASE, MONITORING}


# Needed only with HD_DMQ_LISTEN (a cluster node).
CLUSTER_NAMES = {"HD_DMQ_ADDRESS", "HD_NODE_ADDRESS", "HD_CLUSTER_FROM"}


def _undefined_names(local_cfg: str, cluster: bool = False) -> set[str]:
    """HD_* names kamailio.cfg uses that a kamailio-local.cfg leaves unset
    (those of a cluster node too with ``cluster``)."""
    config = (ROOT / "kamailio" / "kamailio.cfg").read_text()
    # Guarded, defaulted (#!trydef), defined by the config itself, or
    # needed only with an optional one.
    # HD_TLS_CONFIG goes with HD_TLS_LISTEN, HD_MEDIA_RELAY_IP with HD_RTPENGINE.
    optional = set(re.findall(r"#!(?:ifn?def|trydef) (HD_[A-Z_]+)", config))
    optional |= {"HD_TLS_CONFIG", "HD_MEDIA_RELAY_IP"}
    optional |= set(re.findall(r'#!substdef "!(HD_[A-Z_]+)!', config))
    if not cluster:
        optional |= CLUSTER_NAMES
    used = set(re.findall(r"\bHD_[A-Z_]+\b", config)) - optional
    return used - set(re.findall(r'"!(HD_[A-Z_]+)!', local_cfg))


def test_kamailio_configmap_defines_what_the_config_needs() -> None:
    docs = list(yaml.safe_load_all((BASE / "kamailio.yaml").read_text()))
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert _undefined_names(configmap["data"]["kamailio-local.cfg"]) == set()


def test_generated_local_config_defines_what_the_config_needs() -> None:
    addresses = EdgeAddresses(
        "udp:127.0.0.1:5060",
        "tcp:127.0.0.1:5080",
        "127.0.0.1",
        6379,
        "http://127.0.0.1:7180/v1/route",
        "sip:a",
        "sip:b",
    )
    assert _undefined_names(local_config(addresses)) == set()
    node = replace(addresses, dmq_listen="udp:127.0.0.2:5090", dmq_peers=("127.0.0.3:5090",))
    assert _undefined_names(local_config(node), cluster=True) == set()


# --- The built manifests: `kubectl kustomize deploy/k8s/overlays/<overlay>` ---

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
# Everything that runs pods: the workloads and one-off Jobs.
POD_KINDS = (*WORKLOAD_KINDS, "Job")
# Every Deployment and StatefulSet of each overlay, by name (read without
# kustomize, for the test ids; the tests look each one up in the build).
WORKLOADS = {
    overlay: sorted(
        d["metadata"]["name"]
        for d in _declared(K8S / "overlays" / overlay)
        if d["kind"] in WORKLOAD_KINDS
    )
    for overlay in OVERLAYS
}
EACH_WORKLOAD = [(overlay, name) for overlay in OVERLAYS for name in WORKLOADS[overlay]]
# Secrets the pods mount that the manifests do not declare: the operator
# creates them (README, "Kubernetes"); the names every component agrees on.
OPERATOR_CREATED_SECRETS = {
    "hotdesk-ca-keypair",  # the CA behind the hotdesk-ca Issuer
    "hotdesk-redis-acl",  # the users files: the primary's (users.acl), the replica's (replica.acl)
    "hotdesk-redis-replica-config",  # a replica's private config (masterauth)
    "hotdesk-redis-admin",  # the administrator (production's cluster-creating Job only)
    "hotdesk-redis-binding",
    "hotdesk-redis-auth",
    "hotdesk-redis-menu",
    "hotdesk-redis-provision",
    "hotdesk-redis-admin-api",
    "hotdesk-redis-kamailio",
    "hotdesk-redis-directory",  # the CLI's directory imports (operators' pods)
    "hotdesk-operator-alice-admin-token",  # the example operator's admin API token
    "hotdesk-secrets-key",  # the SIP secrets' encryption key
    "hotdesk-menu-key",  # X-Hotdesk-Device's signing key
    "hotdesk-pin-digest-key",  # the key of the PINs' digests (the CLI's directory imports)
    "hotdesk-webhook-key",  # the key the admin service seals webhook secrets with
}
# A service's Redis ACL user, where it is not the service's name ("admin"
# holds the administrator's password: services.devstack.redis_acl).
REDIS_USERS = {"admin": redis_acl.ADMIN_USER}
# Operator-created Secrets an overlay does without.
UNUSED_SECRETS = {"dev": {"hotdesk-redis-admin"}, "production": set[str]()}
# The attack surface: the only (workload, container port) the outside may
# reach. Everything else is for named pods of the cluster only.
PUBLIC_PORTS = {
    ("kamailio", "sip"),
    ("kamailio", "sip-tcp"),
    ("kamailio", "sips"),
    ("provision", "http"),
}
# Who the policies name (network-policies.yaml's header documents them).
OPERATOR_TOOLS = {"app.kubernetes.io/component": "operator-tools"}
PROMETHEUS = ({"app.kubernetes.io/name": "prometheus"}, "monitoring")
KUBE_DNS = ({"k8s-app": "kube-dns"}, "kube-system")
OUTSIDE_ADDRESS = "203.0.113.7"  # a phone on the Internet (TEST-NET-3)


@functools.cache
def _build(overlay: str) -> str:
    """An overlay as kustomize builds it (a real build: kubectl is installed
    by make bootstrap)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: make bootstrap installs Debian's kubernetes-client"
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def built(overlay: str) -> list[Manifest]:
    """The overlay's manifests, what gets applied (each test its own copy)."""
    return [d for d in yaml.safe_load_all(_build(overlay)) if d]


def _of_kind(built: list[Manifest], *kinds: str) -> list[Manifest]:
    return [d for d in built if d["kind"] in kinds]


def _workload_names(built: list[Manifest]) -> list[str]:
    return sorted(w["metadata"]["name"] for w in _of_kind(built, *WORKLOAD_KINDS))


def _workload(built: list[Manifest], name: str) -> Manifest:
    (found,) = [d for d in _of_kind(built, *WORKLOAD_KINDS) if d["metadata"]["name"] == name]
    return found


def _pod(workload: Manifest) -> Manifest:
    return workload["spec"]["template"]  # type: ignore[no-any-return]


def _containers(pod_spec: Manifest) -> list[Manifest]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def _env(container: Manifest) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _kamailio_configmap(built: list[Manifest]) -> Manifest:
    (configmap,) = [
        d for d in _of_kind(built, "ConfigMap") if d["metadata"]["name"] == "kamailio-local"
    ]
    return configmap


def _cluster_peers(built: list[Manifest]) -> list[str]:
    """The DMQ host:port of every Kamailio node (EDGE_DMQ_PEERS, which the
    entrypoint resolves); none for a single node."""
    (container,) = _pod(_workload(built, "kamailio"))["spec"]["containers"]
    return _env(container).get("EDGE_DMQ_PEERS", "").split()


def _kamailio_defines(built: list[Manifest]) -> dict[str, str]:
    """The #!substdef names and values of the kamailio-local template."""
    local_cfg = _kamailio_configmap(built)["data"]["kamailio-local.cfg"]
    return dict(re.findall(r'#!substdef "!(HD_[A-Z_]+)!(.*)!g"', local_cfg))


def _redis_spec(spec: str) -> dict[str, str]:
    """An ndb_redis server spec (``name=hd;addr=...;port=...``) as a dict."""
    return dict(kv.split("=", 1) for kv in spec.split(";"))


def _tools_example() -> list[Manifest]:
    """deploy/k8s/examples/operator-tools.yaml: an operator's CLI pod."""
    text = (K8S / "examples" / "operator-tools.yaml").read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def _tools_pod() -> Manifest:
    (pod,) = _of_kind(_tools_example(), "Pod")
    return pod


def test_kustomize_builds_everything_into_one_namespace(built: list[Manifest]) -> None:
    (namespace,) = _of_kind(built, "Namespace")
    name = namespace["metadata"]["name"]
    others = [d for d in built if d["kind"] != "Namespace"]
    assert others
    assert {d["metadata"].get("namespace") for d in others} == {name}


def test_the_dashboards_configmap_holds_every_dashboard(built: list[Manifest]) -> None:
    """kube-prometheus-stack's Grafana sidecar loads ConfigMaps labelled
    grafana_dashboard: "1"; this one carries the committed dashboards."""
    (dashboards,) = [
        d
        for d in _of_kind(built, "ConfigMap")
        if d["metadata"]["name"].startswith("hotdesk-dashboards")
    ]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = {p.name: p.read_text() for p in (MONITORING / "dashboards").glob("*.json")}
    assert dashboards["data"] == files
    assert len(yaml.safe_dump(dashboards)) < 1024 * 1024  # a ConfigMap's limit


def test_namespace_enforces_the_restricted_pod_security_standard(built: list[Manifest]) -> None:
    (namespace,) = _of_kind(built, "Namespace")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def _assert_restricted(spec: Manifest, name: str) -> None:
    """A pod spec meets the restricted Pod Security profile and mounts no
    service-account token."""
    assert spec["automountServiceAccountToken"] is False
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(host), host
    assert not [v for v in spec.get("volumes", []) if "hostPath" in v]
    pod_context = spec.get("securityContext", {})
    for container in _containers(spec):
        # The container's own settings win over the pod's.
        context = {**pod_context, **container.get("securityContext", {})}
        where = f"{name}/{container['name']}"
        assert context.get("runAsNonRoot") is True, where
        for field in ("runAsUser", "runAsGroup"):
            assert isinstance(context.get(field), int), (where, field)
            assert context[field] > 0, (where, field)
        assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not context.get("capabilities", {}).get("add"), where
        assert not context.get("privileged"), where
        assert not [p for p in container.get("ports", []) if "hostPort" in p], where


@pytest.mark.parametrize(("overlay", "name"), EACH_WORKLOAD)
def test_pods_meet_the_restricted_profile(built: list[Manifest], name: str) -> None:
    _assert_restricted(_pod(_workload(built, name))["spec"], name)


@pytest.mark.parametrize(
    ("image", "dockerfile"),
    [("hotdesk-edge", "Dockerfile"), ("hotdesk-edge-kamailio", "kamailio/Dockerfile")],
)
def test_pods_run_as_the_images_own_user(
    built: list[Manifest], image: str, dockerfile: str
) -> None:
    """The numeric user the manifests run an image as is the one its
    Dockerfile creates and switches to."""
    text = (K8S.parents[1] / dockerfile).read_text()
    (user,) = re.findall(r"^USER (\d+):(\d+)$", text, re.MULTILINE)
    found = 0
    for workload in _of_kind(built, *WORKLOAD_KINDS):
        spec = _pod(workload)["spec"]
        for container in _containers(spec):
            if container["image"].split("@")[0].rsplit(":", 1)[0] == image:
                context = {**spec["securityContext"], **container.get("securityContext", {})}
                assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user
                found += 1
    assert found


def test_images_are_pinned(built: list[Manifest]) -> None:
    """A release tag or a digest on every image; never `latest` or none."""
    specs = [_pod(w)["spec"] for w in _of_kind(built, *POD_KINDS)]
    images = [c["image"] for spec in [*specs, _tools_pod()["spec"]] for c in _containers(spec)]
    assert images
    for image in images:
        name, _, digest = image.partition("@")
        if digest:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
            continue
        last = name.rsplit("/", 1)[-1]
        assert ":" in last, f"untagged image {image}"
        assert last.rsplit(":", 1)[1] != "latest", image


def _selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions) against labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


@pytest.mark.parametrize(("overlay", "name"), EACH_WORKLOAD)
def test_every_workload_has_a_disruption_budget(built: list[Manifest], name: str) -> None:
    workload = _workload(built, name)
    labels = _pod(workload)["metadata"]["labels"]
    budgets = [
        b for b in _of_kind(built, "PodDisruptionBudget") if _selects(b["spec"]["selector"], labels)
    ]
    assert len(budgets) == 1, [b["metadata"]["name"] for b in budgets]
    (spec,) = [b["spec"] for b in budgets]
    assert ("maxUnavailable" in spec) != ("minAvailable" in spec)
    # Never more than the replicas there are.
    assert int(spec.get("maxUnavailable", 0)) <= int(workload["spec"]["replicas"])
    # Exactly the workload's pods: its own selector.
    assert spec["selector"] == workload["spec"]["selector"]
    # Several pods of a workload: one may go at a time (a drain never waits
    # on one that could go).
    if int(workload["spec"]["replicas"]) > 1:
        assert int(spec.get("maxUnavailable", 1)) >= 1


def test_jobs_are_restricted_and_have_their_own_policy(built: list[Manifest]) -> None:
    """One-off pods (production's cluster-creating Job) under the same rules
    as the workloads."""
    namespace, address = _namespace(built), _pod_address(built)
    dns = Peer.pod(KUBE_DNS[0], KUBE_DNS[1], address)
    for job in _of_kind(built, "Job"):
        name = job["metadata"]["name"]
        _assert_restricted(_pod(job)["spec"], name)
        labels = _pod(job)["metadata"]["labels"]
        assert [
            p
            for p in _of_kind(built, "NetworkPolicy")
            if p["spec"]["podSelector"] != {} and _selects(p["spec"]["podSelector"], labels)
        ], name
        peer = Peer.pod(labels, namespace, address)
        assert _allowed(built, "Egress", peer, dns, 53, "UDP"), name
        # Nobody calls a Job.
        for who, source in _model_sources(built).items():
            assert not _allowed(built, "Ingress", peer, source, 6379, "TCP"), (name, who)


# --- NetworkPolicies, evaluated -------------------------------------------------
#
# A small evaluator of networking.k8s.io/v1 semantics over the built policies:
# a pod selected by any policy of a direction is isolated in it, and then a
# packet passes if some rule of some policy selecting it allows the peer and
# the port. ipBlock is applied to pods' addresses too (what the stricter
# network plugins do: the worst case for what may reach the edge).


@dataclass(frozen=True)
class Peer:
    """One end of a flow: a pod (labels, namespace) or an address outside."""

    labels: tuple[tuple[str, str], ...]
    namespace: str | None  # None: not a pod
    address: str

    @classmethod
    def pod(cls, labels: dict[str, str], namespace: str, address: str) -> "Peer":
        return cls(tuple(sorted(labels.items())), namespace, address)

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


def _peer_matches(rule_peer: Manifest, peer: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        ip = ipaddress.ip_address(peer.address)
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if peer.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        namespace_labels = {"kubernetes.io/metadata.name": peer.namespace}
        if not _selects(rule_peer["namespaceSelector"], namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return _selects(rule_peer.get("podSelector", {}), peer.label_dict)


def _port_matches(rule: Manifest, port: int, protocol: str, named: dict[str, int]) -> bool:
    if not rule.get("ports"):
        return True
    for entry in rule["ports"]:
        if entry.get("protocol", "TCP") != protocol:
            continue
        if "port" not in entry:
            return True
        first = entry["port"]
        first = named.get(first, -1) if isinstance(first, str) else first
        if first <= port <= entry.get("endPort", first):
            return True
    return False


def _allowed(
    built: list[Manifest], direction: str, subject: Peer, other: Peer, port: int, protocol: str
) -> bool:
    """Whether subject's policies let a packet in from (Ingress) or out to
    (Egress) other, on port/protocol (at the destination)."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    destination = subject if direction == "Ingress" else other
    named = _named_ports(built, destination)
    selecting = [
        p
        for p in _of_kind(built, "NetworkPolicy")
        if subject.namespace == p["metadata"]["namespace"]
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], subject.label_dict)
    ]
    if not selecting:
        return True
    return any(
        _port_matches(rule, port, protocol, named)
        and (
            not rule.get(peers_key)
            or any(_peer_matches(x, other, p["metadata"]["namespace"]) for x in rule[peers_key])
        )
        for p in selecting
        for rule in p["spec"].get(key) or []
    )


def _flow(built: list[Manifest], source: Peer, destination: Peer, port: int, proto: str) -> bool:
    return _allowed(built, "Egress", source, destination, port, proto) and _allowed(
        built, "Ingress", destination, source, port, proto
    )


def _namespace(built: list[Manifest]) -> str:
    (namespace,) = _of_kind(built, "Namespace")
    return namespace["metadata"]["name"]  # type: ignore[no-any-return]


def _pod_address(built: list[Manifest]) -> str:
    """An address in the pod network (HD_PUSH_FROM: who Kamailio takes
    check-sync pushes from)."""
    network = ipaddress.ip_network(_kamailio_defines(built)["HD_PUSH_FROM"])
    return str(network.network_address + 7)


def _workload_peer(built: list[Manifest], name: str) -> Peer:
    labels = _pod(_workload(built, name))["metadata"]["labels"]
    return Peer.pod(labels, _namespace(built), _pod_address(built))


def _named_ports(built: list[Manifest], peer: Peer) -> dict[str, int]:
    if peer.namespace is None:
        return {}
    return {
        p["name"]: p["containerPort"]
        for w in _of_kind(built, *WORKLOAD_KINDS)
        if _selects(w["spec"]["selector"], peer.label_dict)
        for c in _containers(_pod(w)["spec"])
        for p in c.get("ports", [])
        if "name" in p
    }


def _model_sources(built: list[Manifest]) -> dict[str, Peer]:
    """Everyone who might send: each workload, operators' tools, Prometheus,
    a stranger pod here and elsewhere, and a host outside."""
    namespace, address = _namespace(built), _pod_address(built)
    sources = {name: _workload_peer(built, name) for name in _workload_names(built)}
    sources["operator-tools"] = Peer.pod(OPERATOR_TOOLS, namespace, address)
    sources["prometheus"] = Peer.pod(PROMETHEUS[0], PROMETHEUS[1], address)
    sources["stranger-here"] = Peer.pod({"app": "stranger"}, namespace, address)
    sources["stranger-elsewhere"] = Peer.pod({"app": "stranger"}, "default", address)
    sources["outside"] = Peer((), None, OUTSIDE_ADDRESS)
    return sources


def test_every_service_port_reaches_a_container_port(built: list[Manifest]) -> None:
    """Each Service port's target is a port its pods have, same protocol."""
    for service in _of_kind(built, "Service"):
        pods = [
            _pod(w)
            for w in _of_kind(built, *WORKLOAD_KINDS)
            if _selects({"matchLabels": service["spec"]["selector"]}, _pod(w)["metadata"]["labels"])
        ]
        assert pods, service["metadata"]["name"]
        for entry in service["spec"].get("ports", []):
            target = entry.get("targetPort", entry["port"])
            protocol = entry.get("protocol", "TCP")
            for pod in pods:
                ports = [
                    p
                    for c in _containers(pod["spec"])
                    for p in c.get("ports", [])
                    if p.get("protocol", "TCP") == protocol
                    and target in (p.get("name"), p["containerPort"])
                ]
                assert ports, (service["metadata"]["name"], entry["name"])


def test_a_default_deny_policy_covers_every_pod(built: list[Manifest]) -> None:
    deny = [
        p
        for p in _of_kind(built, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny


@pytest.mark.parametrize(
    ("overlay", "name"), [*EACH_WORKLOAD, *((o, "operator-tools") for o in OVERLAYS)]
)
def test_every_pod_has_its_own_policy(built: list[Manifest], name: str) -> None:
    """Besides the namespace-wide ones, a policy that names the pod."""
    peer = _model_sources(built)[name]
    own = [
        p
        for p in _of_kind(built, "NetworkPolicy")
        if p["spec"]["podSelector"] != {} and _selects(p["spec"]["podSelector"], peer.label_dict)
    ]
    assert own


def test_the_binding_lookup_is_reachable_from_kamailio_only(built: list[Manifest]) -> None:
    (binding,) = _containers(_pod(_workload(built, "binding"))["spec"])
    port = int(_env(binding)["HOTDESK_BINDING_HTTP_PORT"])
    binding_peer = _workload_peer(built, "binding")
    allowed = {
        name
        for name, source in _model_sources(built).items()
        if _allowed(built, "Ingress", binding_peer, source, port, "TCP")
    }
    assert allowed == {"kamailio"}
    # And structurally: every rule that opens the port names Kamailio's pods
    # and nothing else (no address block, no other namespace, no "anyone").
    kamailio_labels = _pod(_workload(built, "kamailio"))["metadata"]["labels"]
    rules = [
        rule
        for p in _of_kind(built, "NetworkPolicy")
        if _selects(p["spec"]["podSelector"], binding_peer.label_dict)
        for rule in p["spec"].get("ingress") or []
        if _port_matches(rule, port, "TCP", _named_ports(built, binding_peer))
    ]
    assert rules
    for rule in rules:
        assert rule.get("from"), rule
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, peer
            assert _selects(peer["podSelector"], kamailio_labels), peer
            assert peer["podSelector"]["matchLabels"].items() <= kamailio_labels.items()


def _service_target(
    built: list[Manifest], host: str, port: int, protocol: str = "TCP"
) -> tuple[Peer, int]:
    """host:port/protocol of a Service in the build -> its pods and the
    container port."""
    (service,) = [d for d in _of_kind(built, "Service") if d["metadata"]["name"] == host]
    (entry,) = [
        p
        for p in service["spec"].get("ports", [])
        if p["port"] == port and p.get("protocol", "TCP") == protocol
    ]
    destination = Peer.pod(service["spec"]["selector"], _namespace(built), _pod_address(built))
    target = entry.get("targetPort", port)
    if isinstance(target, str):
        target = _named_ports(built, destination)[target]
    return destination, target


def _configured_calls(built: list[Manifest]) -> list[tuple[str, str, int, str]]:
    """(caller, service host, service port, protocol) for every address the
    workloads are configured to call, read from their env and from
    Kamailio's local config."""
    calls: list[tuple[str, str, int, str]] = []
    for name in _workload_names(built):
        for container in _containers(_pod(_workload(built, name))["spec"]):
            env = _env(container)
            for var, value in env.items():
                if var.endswith("_ADDRESS"):
                    host, port = value.rsplit(":", 1)
                    calls.append((name, host, int(port), "TCP"))
                elif var.endswith("_REDIS_URL"):
                    url = urlsplit(value)
                    calls.append((name, str(url.hostname), url.port or 6379, "TCP"))
                elif var.endswith("_PUSH_EDGE_HOST"):  # check-sync NOTIFYs (SIP over UDP)
                    port_var = var.removesuffix("HOST") + "PORT"
                    calls.append((name, value, int(env[port_var]), "UDP"))
    defines = _kamailio_defines(built)
    lookup = urlsplit(defines["HD_BINDING_URL"])
    calls.append(("kamailio", str(lookup.hostname), int(lookup.port or 80), "TCP"))
    for name in ("HD_REDIS", "HD_ROUTE_REDIS"):
        redis = _redis_spec(defines[name])
        calls.append(("kamailio", redis["addr"], int(redis["port"]), "TCP"))
    menu_host, menu_port = defines["HD_VOICE_MENU"].removeprefix("sip:").split(":")
    calls.append(("kamailio", menu_host, int(menu_port), "UDP"))
    return calls


def test_every_configured_call_is_allowed(built: list[Manifest]) -> None:
    calls = _configured_calls(built)
    callers = {caller for caller, *_ in calls}
    assert {"binding", "auth", "menu", "provision", "kamailio"} <= callers
    for caller, host, port, protocol in calls:
        destination, target = _service_target(built, host, port, protocol)
        source = _workload_peer(built, caller)
        assert _flow(built, source, destination, target, protocol), (caller, host, port)


def test_operators_prometheus_and_dns_are_let_through(built: list[Manifest]) -> None:
    sources = _model_sources(built)
    # Operators' tools: every gRPC Service, and Redis (directory imports).
    services = _of_kind(built, "Service")
    grpc_ports = [
        (s["metadata"]["name"], p["port"])
        for s in services
        for p in s["spec"].get("ports", [])
        if p.get("appProtocol") == "grpc"
    ]
    assert len(grpc_ports) == 4
    redis_ports = [
        ("redis", p["port"])
        for s in services
        if s["metadata"]["name"] == "redis"
        for p in s["spec"].get("ports", [])
    ]
    # ... and the admin API (its scripts' and the CLI's operator commands).
    for host, port in [*grpc_ports, *redis_ports, ("admin", 7480)]:
        destination, target = _service_target(built, host, port)
        assert _flow(built, sources["operator-tools"], destination, target, "TCP"), host
    # Prometheus: the port each pod asks to be scraped on.
    scraped = 0
    for name in _workload_names(built):
        annotations = _pod(_workload(built, name))["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            port = int(annotations["prometheus.io/port"])
            assert _flow(built, sources["prometheus"], sources[name], port, "TCP"), name
            scraped += 1
    assert scraped >= 5
    # DNS from every pod.
    dns = Peer.pod(KUBE_DNS[0], KUBE_DNS[1], _pod_address(built))
    for name in [*_workload_names(built), "operator-tools"]:
        for proto in ("UDP", "TCP"):
            assert _allowed(built, "Egress", sources[name], dns, 53, proto), name


@pytest.mark.parametrize(("overlay", "name"), EACH_WORKLOAD)
def test_only_the_phone_facing_ports_are_open_to_the_outside(
    built: list[Manifest], name: str
) -> None:
    """Every container port is reachable by someone; the outside and
    strangers reach only the public ones (PUBLIC_PORTS)."""
    sources = _model_sources(built)
    destination = sources[name]
    # Several pods of one workload may talk to each other (a cluster's).
    several = int(_workload(built, name)["spec"]["replicas"]) > 1
    for container in _containers(_pod(_workload(built, name))["spec"]):
        for entry in container.get("ports", []):
            port, proto = entry["containerPort"], entry.get("protocol", "TCP")
            allowed = {
                who
                for who, source in sources.items()
                if (who != name or several)
                and _allowed(built, "Ingress", destination, source, port, proto)
            }
            where = (name, entry["name"])
            assert allowed, f"{where}: nobody may reach it"
            strangers = allowed & {"outside", "stranger-here", "stranger-elsewhere"}
            if where in PUBLIC_PORTS:
                assert "outside" in allowed, where
            else:
                assert not strangers, (where, strangers)


def test_the_pod_network_reaches_the_phone_ports_only_for_the_menus_byes(
    built: list[Manifest],
) -> None:
    """The phone-facing ports: from the pod network only the voice menu's
    BYEs (check-sync pushes have their own socket, HD_PUSH_LISTEN), and in
    a cluster the other nodes' relayed requests (UDP, from their DMQ
    socket)."""
    sources = _model_sources(built)
    edge = sources["kamailio"]
    for entry in _containers(_pod(_workload(built, "kamailio"))["spec"])[0]["ports"]:
        if ("kamailio", entry["name"]) not in PUBLIC_PORTS:
            continue
        port, proto = entry["containerPort"], entry.get("protocol", "TCP")
        in_pod_network = {
            who
            for who, source in sources.items()
            if who != "outside" and _allowed(built, "Ingress", edge, source, port, proto)
        }
        nodes = {"kamailio"} if _cluster_peers(built) and proto == "UDP" else set()
        assert in_pod_network <= {"menu"} | nodes, (entry["name"], in_pod_network)


def test_the_menu_takes_sip_from_kamailio_only(built: list[Manifest]) -> None:
    """The menu serves requests from its trusted edges, the pod network (in
    step with HD_PUSH_FROM): the policies let nothing in the pod network but
    Kamailio reach its SIP port, and Kamailio's pods are among the trusted.
    Its Contact and SDP carry the pod's own address."""
    (container,) = _containers(_pod(_workload(built, "menu"))["spec"])
    env = _env(container)
    trusted = ipaddress.ip_network(env["HOTDESK_MENU_TRUSTED_EDGES"])
    assert trusted == ipaddress.ip_network(_kamailio_defines(built)["HD_PUSH_FROM"])
    sources = _model_sources(built)
    assert ipaddress.ip_address(sources["kamailio"].address) in trusted
    sip = _named_ports(built, sources["menu"])["sip"]
    assert sip == int(env["HOTDESK_MENU_SIP_PORT"])
    allowed = {
        who
        for who, source in sources.items()
        if _allowed(built, "Ingress", sources["menu"], source, sip, "UDP")
    }
    assert allowed == {"kamailio"}
    (advertise,) = [e for e in container["env"] if e["name"] == "HOTDESK_MENU_ADVERTISE"]
    assert advertise["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def _push_port(built: list[Manifest]) -> int:
    """The port of Kamailio's internal push socket (HD_PUSH_LISTEN)."""
    protocol, _, port = _kamailio_defines(built)["HD_PUSH_LISTEN"].split(":")
    assert protocol == "udp"
    return int(port)


def _service(built: list[Manifest], name: str) -> Manifest:
    (found,) = [d for d in _of_kind(built, "Service") if d["metadata"]["name"] == name]
    return found


def test_the_push_socket_is_only_on_the_internal_service(built: list[Manifest]) -> None:
    """The LoadBalancer carries SIP only; kamailio-push, a ClusterIP Service,
    carries the push socket and nothing else."""
    push = _push_port(built)
    named = _named_ports(built, _workload_peer(built, "kamailio"))
    assert named["push"] == push
    for service in _of_kind(built, "Service"):
        if service["spec"].get("type", "ClusterIP") == "ClusterIP":
            continue
        for entry in service["spec"].get("ports", []):
            target = entry.get("targetPort", entry["port"])
            target = named.get(target, target) if isinstance(target, str) else target
            where = (service["metadata"]["name"], entry["name"])
            assert push not in (entry["port"], target, entry.get("nodePort")), where
    internal = _service(built, "kamailio-push")
    assert internal["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert not internal["spec"].get("externalIPs")
    ((port, target, protocol),) = [
        (p["port"], p.get("targetPort", p["port"]), p.get("protocol", "TCP"))
        for p in internal["spec"]["ports"]
    ]
    assert (port, named.get(target, target), protocol) == (push, push, "UDP")


def test_provision_pushes_to_the_push_socket_only(built: list[Manifest]) -> None:
    (container,) = _containers(_pod(_workload(built, "provision"))["spec"])
    env = _env(container)
    host = env["HOTDESK_PROVISION_PUSH_EDGE_HOST"]
    port = int(env["HOTDESK_PROVISION_PUSH_EDGE_PORT"])
    assert (host, port) == ("kamailio-push", _push_port(built))
    destination, target = _service_target(built, host, port, "UDP")
    assert _selects(
        {"matchLabels": destination.label_dict}, _workload_peer(built, "kamailio").label_dict
    )
    assert target == _push_port(built)
    provision = _workload_peer(built, "provision")
    assert _flow(built, provision, destination, target, "UDP")
    # Not to the phones' port.
    sip = _named_ports(built, destination)["sip"]
    assert not _flow(built, provision, destination, sip, "UDP")


def test_nothing_but_provision_reaches_the_push_socket(built: list[Manifest]) -> None:
    edge = _workload_peer(built, "kamailio")
    sources = _model_sources(built)
    allowed = {
        who
        for who, source in sources.items()
        if _allowed(built, "Ingress", edge, source, _push_port(built), "UDP")
    }
    assert allowed == {"provision"}


def _workload_ports(built: list[Manifest]) -> list[tuple[str, int, str]]:
    """(workload, container port, protocol) of every workload."""
    return [
        (name, p["containerPort"], p.get("protocol", "TCP"))
        for name in _workload_names(built)
        for c in _containers(_pod(_workload(built, name))["spec"])
        for p in c.get("ports", [])
    ]


# Only dev has a replica of one primary (production: Redis Cluster).
@pytest.mark.parametrize("overlay", ["dev"])
def test_kamailio_reads_the_replica_and_the_primary_only_for_route_checks(
    built: list[Manifest],
) -> None:
    """Kamailio reads what it needs from the replica; the route cache's
    checks must not (a replica may lag behind a login just answered), so
    they go to the primary as ACL user kamailio, which may read the route
    generations and nothing else."""
    defines = _kamailio_defines(built)
    redis = _redis_spec(defines["HD_REDIS"])
    assert (redis["addr"], redis["port"]) == ("redis-replica", "6379")
    destination, target = _service_target(built, redis["addr"], int(redis["port"]))
    assert target == 6379
    replica_labels = _workload_peer(built, "redis-replica").label_dict
    assert _selects({"matchLabels": destination.label_dict}, replica_labels)
    primary = _workload_peer(built, "redis")
    assert not _selects({"matchLabels": destination.label_dict}, primary.label_dict)

    route = _redis_spec(defines["HD_ROUTE_REDIS"])
    assert (route["addr"], route["port"], route["user"]) == ("redis", "6379", "kamailio")
    destination, target = _service_target(built, route["addr"], int(route["port"]))
    assert _selects({"matchLabels": destination.label_dict}, primary.label_dict)
    assert _flow(built, _workload_peer(built, "kamailio"), primary, target, "TCP")
    rules = redis_acl.PRIMARY["kamailio"]
    assert {r for r in rules if "~" in r} == {f"%R~{keys.DIR_VERSION}", "%R~hd:{*}:routegen"}
    assert {r for r in rules if r[0] in "+-"} == {
        "-@all",
        "+get",
        "+hget",
        "+hmget",
        "+ping",
        "+select",
    }


# Only dev has a replica of one primary (production: Redis Cluster).
@pytest.mark.parametrize("overlay", ["dev"])
def test_the_replica_is_read_by_kamailio_and_calls_only_the_primary(
    built: list[Manifest],
) -> None:
    sources = _model_sources(built)
    replica = sources["redis-replica"]
    readers = {
        who
        for who, source in sources.items()
        if who != "redis-replica" and _allowed(built, "Ingress", replica, source, 6379, "TCP")
    }
    assert readers == {"kamailio"}
    reached = {
        (name, port, protocol)
        for name, port, protocol in _workload_ports(built)
        if name != "redis-replica"
        and _allowed(built, "Egress", replica, sources[name], port, protocol)
    }
    assert reached == {("redis", 6379, "TCP")}
    assert not _allowed(built, "Egress", replica, sources["outside"], 6379, "TCP")
    # And the primary lets it in.
    assert _flow(built, replica, sources["redis"], 6379, "TCP")


# --- Secrets, certificates and the files the services read -----------------------


def _volumes(built: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [
        (w["metadata"]["name"], v)
        for w in _of_kind(built, *POD_KINDS)
        for v in _pod(w)["spec"].get("volumes", [])
    ]


def test_mounted_secrets_and_configmaps_are_declared_or_operator_created(
    built: list[Manifest], overlay: str
) -> None:
    declared_maps = {d["metadata"]["name"] for d in _of_kind(built, "ConfigMap")}
    declared_secrets = {d["metadata"]["name"] for d in _of_kind(built, "Secret")}
    issued = {d["spec"]["secretName"] for d in _of_kind(built, "Certificate")}
    used: set[str] = set()
    for name, volume in _volumes(built):
        if "configMap" in volume:
            assert volume["configMap"]["name"] in declared_maps, (name, volume)
        if "secret" in volume:
            secret = volume["secret"]["secretName"]
            assert secret in declared_secrets | issued | OPERATOR_CREATED_SECRETS, (name, secret)
            used.add(secret)
    used |= {d["spec"]["ca"]["secretName"] for d in _of_kind(built, "Issuer") if "ca" in d["spec"]}
    # The operators' tool pod (examples/): its own certificate, else theirs.
    (tool_certificate,) = _of_kind(_tools_example(), "Certificate")
    for volume in _tools_pod()["spec"]["volumes"]:
        if "secret" in volume:
            secret = volume["secret"]["secretName"]
            assert secret in OPERATOR_CREATED_SECRETS | {tool_certificate["spec"]["secretName"]}
            used.add(secret)
    # The list names nothing that nobody uses.
    assert used >= OPERATOR_CREATED_SECRETS - UNUSED_SECRETS[overlay]
    assert not used & UNUSED_SECRETS[overlay]
    # No secret value in the repository.
    assert not declared_secrets


def _mounts(built: list[Manifest], name: str) -> dict[str, tuple[Manifest, Manifest]]:
    """mountPath -> (volumeMount, volume) of a workload's container."""
    workload = _workload(built, name)
    claims = workload["spec"].get("volumeClaimTemplates", [])
    return _spec_mounts(_pod(workload)["spec"], claims)


def _spec_mounts(
    spec: Manifest, claims: list[Manifest] | None = None
) -> dict[str, tuple[Manifest, Manifest]]:
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for claim in claims or []:
        volumes[claim["metadata"]["name"]] = {"persistentVolumeClaim": claim["spec"]}
    (container,) = spec["containers"]
    return {m["mountPath"]: (m, volumes[m["name"]]) for m in container.get("volumeMounts", [])}


def _file_source(built: list[Manifest], name: str, path: str) -> tuple[str, str]:
    """(Secret name, key) a file path in a workload comes from."""
    return _mounted_file(_mounts(built, name), path)


def _mounted_file(mounts: dict[str, tuple[Manifest, Manifest]], path: str) -> tuple[str, str]:
    """(Secret name, key) a file path comes from; asserts it is a read-only
    Secret mount that holds that file."""
    parent, _, file = path.rpartition("/")
    assert parent in mounts, path
    mount, volume = mounts[parent]
    assert mount.get("readOnly") is True, path
    assert "secret" in volume, path
    items = volume["secret"].get("items")
    if items is None:  # the whole Secret: a cert-manager one (tls.crt, tls.key, ca.crt)
        assert file in {"tls.crt", "tls.key", "ca.crt"}, path
        return volume["secret"]["secretName"], file
    (key,) = [i["key"] for i in items if i["path"] == file]
    return volume["secret"]["secretName"], key


@pytest.mark.parametrize("name", ["binding", "auth", "menu", "provision", "admin"])
def test_service_files_come_from_the_contracted_secrets(built: list[Manifest], name: str) -> None:
    (container,) = _pod(_workload(built, name))["spec"]["containers"]
    env = _env(container)
    prefix = f"HOTDESK_{name.upper()}_"
    files = {var.removeprefix(prefix): path for var, path in env.items() if var.endswith("_FILE")}
    # gRPC identity: the service's cert-manager Secret, from the hotdesk-ca Issuer.
    tls = f"hotdesk-{name}-tls"
    for setting, key in [("CERT", "tls.crt"), ("KEY", "tls.key"), ("CA", "ca.crt")]:
        path = files.pop(f"GRPC_TLS_{setting}_FILE")
        assert path == f"/etc/hotdesk/tls/{key}"
        assert _file_source(built, name, path) == (tls, key)
    (certificate,) = [c for c in _of_kind(built, "Certificate") if c["spec"]["secretName"] == tls]
    assert certificate["spec"]["commonName"] == f"service:{name}"
    # The names callers dial: the Service, also qualified with the namespace.
    dns_names = certificate["spec"]["dnsNames"]
    assert {name, f"{name}.{_namespace(built)}.svc"} <= set(dns_names)
    assert certificate["spec"]["issuerRef"]["name"] == "hotdesk-ca"
    (issuer,) = [i for i in _of_kind(built, "Issuer") if i["metadata"]["name"] == "hotdesk-ca"]
    assert "ca" in issuer["spec"]
    # Redis: the ACL user in the URL, its password from hotdesk-redis-<user>.
    user = urlsplit(env[f"{prefix}REDIS_URL"]).username
    assert user == REDIS_USERS.get(name, name)
    path = files.pop("REDIS_PASSWORD_FILE")
    assert path == "/etc/hotdesk/redis/password"
    assert _file_source(built, name, path) == (f"hotdesk-redis-{user}", "password")
    # The rest: the SIP secrets' key (provision), the edge's signing key
    # (menu), the key webhook secrets are sealed with (admin).
    expected = {
        "provision": {"SECRETS_KEY_FILE": ("/etc/hotdesk/secrets/key", "hotdesk-secrets-key")},
        "menu": {"KEY_FILE": ("/etc/hotdesk/menu/key", "hotdesk-menu-key")},
        "admin": {"WEBHOOK_KEY_FILE": ("/etc/hotdesk/webhook/key", "hotdesk-webhook-key")},
    }.get(name, {})
    assert set(files) == set(expected)
    for setting, (want_path, secret) in expected.items():
        assert files[setting] == want_path
        assert _file_source(built, name, want_path) == (secret, "key")


# The users file of each overlay's Redis: the primary's (services.devstack.
# redis_acl's role `primary`), a Redis Cluster node's (role `cluster`).
USERS_FILE = {"dev": "users.acl", "production": "cluster.acl"}


def test_redis_loads_its_users_from_the_acl_secret(built: list[Manifest], overlay: str) -> None:
    (container,) = _pod(_workload(built, "redis"))["spec"]["containers"]
    args = container["args"]
    path = args[args.index("--aclfile") + 1]
    assert _file_source(built, "redis", path) == ("hotdesk-redis-acl", USERS_FILE[overlay])
    # Its data stays on the claim.
    mounts = _mounts(built, "redis")
    (claim,) = _workload(built, "redis")["spec"]["volumeClaimTemplates"]
    assert mounts["/data"][0]["name"] == claim["metadata"]["name"]
    assert not mounts["/data"][0].get("readOnly")


def _redis_arguments(arguments: list[str]) -> dict[str, list[str]]:
    """redis-server's ``--name value...`` arguments, by name."""
    parsed: dict[str, list[str]] = {}
    name = ""
    for argument in arguments:
        if argument.startswith("--"):
            name = argument.removeprefix("--")
            parsed[name] = []
        else:
            assert name, argument
            parsed[name].append(argument)
    return parsed


# Only dev has a replica of one primary (production: Redis Cluster).
@pytest.mark.parametrize("overlay", ["dev"])
def test_the_replica_links_to_the_primary_as_user_replica(built: list[Manifest]) -> None:
    """The link's settings are redis_acl's (what ``make run`` uses); its
    password only in a Secret-mounted config file."""
    (container,) = _pod(_workload(built, "redis-replica"))["spec"]["containers"]
    config, *rest = container["args"]
    assert _file_source(built, "redis-replica", config) == (
        "hotdesk-redis-replica-config",
        "redis.conf",
    )
    arguments = _redis_arguments(rest)
    link = _redis_arguments(redis_acl.as_arguments(redis_acl.replica_link("redis", 6379)))
    for name, values in link.items():
        assert arguments.get(name) == values, name
    assert arguments["masteruser"] == ["replica"]
    assert "replica" in redis_acl.PRIMARY
    # replicaof names the primary's Service, which selects the primary.
    host, port = arguments["replicaof"]
    destination, target = _service_target(built, host, int(port))
    primary = _workload_peer(built, "redis")
    assert _selects({"matchLabels": destination.label_dict}, primary.label_dict)
    assert target == 6379
    # No persistence of its own; its working directory is scratch space.
    assert (arguments["appendonly"], arguments["save"]) == (["no"], [""])
    mount, volume = _mounts(built, "redis-replica")["/data"]
    assert "emptyDir" in volume and not mount.get("readOnly")
    # Its users: the replica's ACL file (Kamailio as `default`).
    (acl,) = arguments["aclfile"]
    assert _file_source(built, "redis-replica", acl) == ("hotdesk-redis-acl", "replica.acl")


def test_no_redis_password_in_any_manifest(built: list[Manifest]) -> None:
    """Passwords only in operator-created Secrets: no masterauth or
    requirepass in what gets applied (the example pod too), Kamailio's only
    as the entrypoint's placeholder, and every other one as a file."""
    applied = yaml.safe_dump_all([*built, *_tools_example()])
    for word in ("masterauth", "requirepass"):
        assert word not in applied.lower(), word
    redis = _redis_spec(_kamailio_defines(built)["HD_REDIS"])
    assert redis["pass"] == "@REDIS_PASSWORD@"
    specs = [_pod(w)["spec"] for w in _of_kind(built, *WORKLOAD_KINDS)]
    for spec in [*specs, _tools_pod()["spec"]]:
        for container in _containers(spec):
            for var in container.get("env", []):
                assert "PASSWORD" not in var["name"] or var["name"].endswith("_FILE"), var
            for url in [v for k, v in _env(container).items() if k.endswith("_URL")]:
                assert urlsplit(url).password is None, url


def _entrypoint_default(variable: str) -> str:
    text = (K8S.parents[1] / "kamailio" / "entrypoint.sh").read_text()
    (value,) = re.findall(rf"\$\{{{variable}:-([^}}]+)\}}", text)
    return str(value)


def test_kamailio_gets_what_its_entrypoint_reads_and_writes(built: list[Manifest]) -> None:
    """The template from the ConfigMap, the password and menu key from their
    Secrets, and writable emptyDirs wherever the entrypoint or Kamailio
    writes (the root filesystem is read-only)."""
    mounts = _mounts(built, "kamailio")
    template = _entrypoint_default("EDGE_LOCAL_TEMPLATE")
    parent, _, file = template.rpartition("/")
    assert mounts[parent][1]["configMap"]["name"] == "kamailio-local"
    assert file in _kamailio_configmap(built)["data"]
    password = _entrypoint_default("EDGE_REDIS_PASSWORD_FILE")
    assert _file_source(built, "kamailio", password) == ("hotdesk-redis-kamailio", "password")
    defines = _kamailio_defines(built)
    assert _file_source(built, "kamailio", defines["HD_MENU_KEY_FILE"]) == (
        "hotdesk-menu-key",
        "key",
    )
    writable = [
        _entrypoint_default("EDGE_LOCAL_DIR"),
        _entrypoint_default("EDGE_RUN_DIR"),
        defines["HD_PEERS_FILE"].rpartition("/")[0],
        "/tmp",
    ]
    for path in writable:
        mount, volume = mounts[path]
        assert "emptyDir" in volume and not mount.get("readOnly"), path
    # The rendered config holds the password: never on the node's disk.
    assert mounts[_entrypoint_default("EDGE_LOCAL_DIR")][1]["emptyDir"]["medium"] == "Memory"
    # SIP over TLS: the edge's certificate, for the name phones reach it at.
    tls = mounts["/etc/hotdesk/tls"][1]["secret"]["secretName"]
    assert tls == "hotdesk-kamailio-tls"
    (certificate,) = [c for c in _of_kind(built, "Certificate") if c["spec"]["secretName"] == tls]
    assert defines["HD_ADVERTISE"].rsplit(":", 1)[0] in certificate["spec"]["dnsNames"]


# --- Production: clusters, spread, autoscaling (overlays/production) -----------

PRODUCTION = pytest.mark.parametrize("overlay", ["production"])


@PRODUCTION
def test_kamailio_is_a_cluster_of_named_nodes(built: list[Manifest]) -> None:
    """A StatefulSet of three to five nodes (kamailio.cfg takes at most four
    peers) behind a headless Service that publishes every pod's name before
    it is ready; each node is told every node's stable name at its DMQ
    port, which only the other nodes reach."""
    kamailio = _workload(built, "kamailio")
    assert kamailio["kind"] == "StatefulSet"
    replicas = int(kamailio["spec"]["replicas"])
    assert 3 <= replicas <= 5
    # Nodes wait for each other's names, not for each other to be ready.
    assert kamailio["spec"]["podManagementPolicy"] == "Parallel"
    service = _service(built, kamailio["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    labels = _pod(kamailio)["metadata"]["labels"]
    assert _selects({"matchLabels": service["spec"]["selector"]}, labels)
    edge = _workload_peer(built, "kamailio")
    dmq = _named_ports(built, edge)["dmq"]
    name, headless = kamailio["metadata"]["name"], service["metadata"]["name"]
    assert _cluster_peers(built) == [f"{name}-{i}.{headless}:{dmq}" for i in range(replicas)]
    (container,) = _pod(kamailio)["spec"]["containers"]
    from_pod = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in container["env"]
        if "valueFrom" in e
    }
    assert from_pod == {"EDGE_NODE_NAME": "metadata.name", "EDGE_POD_IP": "status.podIP"}
    # DMQ: from the other nodes only, and the nodes' network is where
    # kamailio.cfg takes KDMQ from.
    sources = _model_sources(built)
    allowed = {w for w, s in sources.items() if _allowed(built, "Ingress", edge, s, dmq, "UDP")}
    assert allowed == {"kamailio"}
    assert _flow(built, edge, edge, dmq, "UDP")
    cluster_from = ipaddress.ip_network(_kamailio_defines(built)["HD_CLUSTER_FROM"])
    assert ipaddress.ip_address(edge.address) in cluster_from
    # Relayed requests, node to node: from a DMQ socket to a SIP socket.
    assert _flow(built, edge, edge, _named_ports(built, edge)["sip"], "UDP")


@pytest.mark.parametrize("name", WORKLOADS["production"])
@PRODUCTION
def test_every_workload_runs_spread_over_machines_and_zones(
    built: list[Manifest], name: str
) -> None:
    """Two pods or more, kept off one machine (anti-affinity) and spread
    over zones (topology spread), each rule selecting the workload's own
    pods."""
    workload = _workload(built, name)
    assert int(workload["spec"]["replicas"]) >= 2
    spec = _pod(workload)["spec"]
    labels = _pod(workload)["metadata"]["labels"]
    anti = spec["affinity"]["podAntiAffinity"]
    terms = [
        *anti.get("requiredDuringSchedulingIgnoredDuringExecution", []),
        *(
            w["podAffinityTerm"]
            for w in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
        ),
    ]
    assert [
        term
        for term in terms
        if term["topologyKey"] == "kubernetes.io/hostname"
        and _selects(term["labelSelector"], labels)
    ]
    spread = {
        c["topologyKey"]
        for c in spec["topologySpreadConstraints"]
        if _selects(c["labelSelector"], labels) and int(c["maxSkew"]) == 1
    }
    assert "topology.kubernetes.io/zone" in spread


@PRODUCTION
def test_the_binding_service_scales_on_cpu(built: list[Manifest]) -> None:
    (autoscaler,) = _of_kind(built, "HorizontalPodAutoscaler")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    spec = autoscaler["spec"]
    target = spec["scaleTargetRef"]
    binding = _workload(built, "binding")
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        binding["apiVersion"],
        binding["kind"],
        binding["metadata"]["name"],
    )
    (metric,) = spec["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # Utilization is measured against the request: the pods have one.
    (container,) = _pod(binding)["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"]
    # Never below two (the disruption budget lets one go), and room to grow.
    assert 2 <= int(spec["minReplicas"]) <= int(binding["spec"]["replicas"])
    assert int(spec["maxReplicas"]) > int(spec["minReplicas"])


@PRODUCTION
def test_redis_is_a_cluster_of_six_that_the_job_creates(built: list[Manifest]) -> None:
    """Six nodes of one StatefulSet in cluster mode, three masters with a
    replica each once the Job has run; replicas link as ACL user
    `replica` (password from a Secret-mounted file); every node's cluster
    state on its own volume."""
    redis = _workload(built, "redis")
    assert int(redis["spec"]["replicas"]) == 6
    (container,) = _pod(redis)["spec"]["containers"]
    config, *rest = container["args"]
    assert _file_source(built, "redis", config) == ("hotdesk-redis-replica-config", "redis.conf")
    arguments = _redis_arguments(rest)
    assert arguments["cluster-enabled"] == ["yes"]
    assert arguments["masteruser"] == ["replica"] and "replica" in redis_acl.PRIMARY
    assert (arguments["appendonly"], arguments["save"]) == (["yes"], [""])
    (nodes_conf,) = arguments["cluster-config-file"]
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mount, _ = _mounts(built, "redis")[nodes_conf.rpartition("/")[0]]
    assert mount["name"] == claim["metadata"]["name"]
    # The nodes reach each other: replication and the cluster bus.
    node = _workload_peer(built, "redis")
    named = _named_ports(built, node)
    assert named["bus"] == named["redis"] + 10000
    for port in (named["redis"], named["bus"]):
        assert _flow(built, node, node, port, "TCP"), port
    # The Job names every node under the headless Service.
    service = _service(built, redis["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    (job,) = _of_kind(built, "Job")
    (create,) = _pod(job)["spec"]["containers"]
    script = create["args"][0]
    hosts = re.findall(r"for i in ([\d ]+); do\n\s*host=(\S+)\$i\.(\S+)\n", script)
    assert hosts == [(" ".join(str(i) for i in range(6)), "redis-", service["metadata"]["name"])]
    assert "--cluster-replicas 1" in script
    assert create["image"].rsplit(":", 1)[0] == container["image"].rsplit(":", 1)[0]
    job_peer = Peer.pod(_pod(job)["metadata"]["labels"], _namespace(built), _pod_address(built))
    assert _flow(built, job_peer, node, named["redis"], "TCP")
    # As the administrator: the one Secret only it mounts.
    path = re.findall(r"\$\(cat (\S+)\)", script)
    assert [_mounted_file(_spec_mounts(_pod(job)["spec"]), p) for p in path] == [
        ("hotdesk-redis-admin", "password")
    ]


@pytest.mark.parametrize("name", ["binding", "auth", "menu", "provision", "admin"])
@PRODUCTION
def test_the_services_use_redis_in_cluster_mode(built: list[Manifest], name: str) -> None:
    (container,) = _pod(_workload(built, name))["spec"]["containers"]
    env = _env(container)
    prefix = f"HOTDESK_{name.upper()}_"
    assert env[f"{prefix}REDIS_CLUSTER"] == "true"
    host = str(urlsplit(env[f"{prefix}REDIS_URL"]).hostname)
    destination, _ = _service_target(built, host, 6379)
    assert _selects(
        {"matchLabels": destination.label_dict}, _workload_peer(built, "redis").label_dict
    )


@PRODUCTION
def test_kamailio_reaches_the_cluster_nodes(built: list[Manifest]) -> None:
    """What Kamailio's HD_REDIS names selects the cluster's nodes and the
    policies let it through (reading a cluster needs more of kamailio.cfg:
    README, "Kubernetes")."""
    redis = _redis_spec(_kamailio_defines(built)["HD_REDIS"])
    destination, target = _service_target(built, redis["addr"], int(redis["port"]))
    node = _workload_peer(built, "redis")
    assert _selects({"matchLabels": destination.label_dict}, node.label_dict)
    assert _flow(built, _workload_peer(built, "kamailio"), node, target, "TCP")


@PRODUCTION
def test_the_redis_nodes_arguments_and_the_job_make_a_cluster(
    built: list[Manifest], tmp_path: Path
) -> None:
    """Six real redis-servers with the StatefulSet's arguments (their files
    and ports moved here) and the Job's script (the nodes' names and port
    moved to loopback ports): three masters, each with a replica linked as
    ACL user `replica`; run again, the script leaves the cluster alone."""
    (container,) = _pod(_workload(built, "redis"))["spec"]["containers"]
    (job,) = _of_kind(built, "Job")
    script = _pod(job)["spec"]["containers"][0]["args"][0]
    passwords = redis_acl.ensure_passwords(tmp_path / "secrets")
    config, *rest = container["args"]
    arguments = _redis_arguments(rest)
    (acl_path,) = arguments["aclfile"]
    files = {
        config: redis_acl.replica_auth(passwords) + "\n",
        # The primary's users (what a cluster node's file has besides
        # Kamailio's own user).
        acl_path: redis_acl.acl_text("cluster", passwords),
        "/etc/hotdesk/redis-admin/password": passwords["admin"],
    }
    for path, text in files.items():
        local = tmp_path / "files" / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text)
    ports = [free_port() for _ in range(12)]
    assert len(set(ports)) == 12
    processes = []
    try:
        for i in range(6):
            node = tmp_path / f"node{i}"
            node.mkdir()
            args = [
                str(tmp_path / "files" / a.lstrip("/")) if a in files else a
                for a in container["args"]
            ]
            (nodes_conf,) = arguments["cluster-config-file"]
            args = [str(node / "nodes.conf") if a == nodes_conf else a for a in args]
            processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        *args,
                        "--port",
                        str(ports[i]),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-port",
                        str(ports[6 + i]),
                        "--dir",
                        str(node),
                        "--logfile",
                        str(node / "log"),
                    ],
                )
            )
        (read,) = re.findall(r"\$\(cat \S+\)", script)
        local_script = script.replace(
            read, f"$(cat {tmp_path / 'files/etc/hotdesk/redis-admin/password'})"
        )
        assert local_script.count("host=redis-$i.redis-cluster\n") == 1
        local_script = local_script.replace(
            "host=redis-$i.redis-cluster\n",
            "host=127.0.0.1; set -- " + " ".join(map(str, ports[:6])) + "; shift $i; port=$1\n",
        )
        assert local_script.count(":6379") == 1 and local_script.count("-p 6379") == 2
        local_script = local_script.replace(":6379", ":$port").replace("-p 6379", '-p "$port"')

        def run_job() -> str:
            done = subprocess.run(
                ["sh", "-c", local_script], capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        run_job()
        admin = [
            redis.Redis(port=p, password=passwords["admin"], decode_responses=True)
            for p in ports[:6]
        ]
        for _ in range(200):
            roles = [a.info("replication") for a in admin]
            linked = [r for r in roles if r["role"] == "slave" and r["master_link_status"] == "up"]
            if admin[0].cluster("info")["cluster_state"] == "ok" and len(linked) == 3:
                break
            time.sleep(0.1)
        assert admin[0].cluster("info")["cluster_state"] == "ok"
        masters = [r for r in roles if r["role"] == "master"]
        assert len(masters) == 3 and all(int(m["connected_slaves"]) == 1 for m in masters)
        assert len(linked) == 3
        assert "the cluster exists" in run_job()
        for client in admin:
            client.close()
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=30)


# --- Both builds are valid Kubernetes objects -----------------------------------

# The last three minor versions whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = sorted(
    set(kubernetes_validate.utils.all_versions()), key=lambda v: tuple(map(int, v.split(".")))
)[-3:]
# Custom resources, which Kubernetes' own schemas do not describe.
CUSTOM_GROUPS = {"cert-manager.io", "monitoring.coreos.com"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_recent_kubernetes(built: list[Manifest], version: str) -> None:
    """Strict: unknown fields (a typo) fail too. Offline: the package
    ships the schemas."""
    checked = set()
    for document in built:
        if document["apiVersion"].split("/")[0] in CUSTOM_GROUPS:
            continue
        where = f"{document['kind']}/{document['metadata']['name']}"
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(f"{where} against {version}: {path}: {error.message}")
        checked.add(document["kind"])
    assert {"Deployment", "StatefulSet", "Service", "NetworkPolicy"} <= checked


def test_the_validation_catches_a_wrong_field() -> None:
    """The check above can fail: a misspelt field, a wrong type."""
    built = [d for d in yaml.safe_load_all(_build("production")) if d]
    hpa = copy.deepcopy(_of_kind(built, "HorizontalPodAutoscaler")[0])
    hpa["spec"]["minReplica"] = hpa["spec"].pop("minReplicas")
    service = copy.deepcopy(_of_kind(built, "Service")[0])
    service["spec"]["ports"] = [{"port": "sip"}]
    for broken in (hpa, service):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


# --- Prometheus Operator objects --------------------------------------------------


def test_the_prometheus_rule_is_the_rule_file(built: list[Manifest]) -> None:
    """The PrometheusRule carries exactly what promtool checks and tests,
    and its file is what the generator writes."""
    (rule,) = _of_kind(built, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(prometheus_rule.RULES.read_text())
    assert prometheus_rule.TARGET.read_text() == prometheus_rule.render(), (
        "regenerate it: python -m services.devstack.prometheus_rule"
    )


def test_every_metrics_port_is_scraped_under_its_job_name(built: list[Manifest]) -> None:
    """Each workload's ops (services) or metrics (Kamailio) port is in a
    PodMonitor, and the job label comes from the pod's name label, which
    the rules select on (job="binding", job="kamailio", ...)."""
    monitors = _of_kind(built, "PodMonitor")
    scraped = set()
    for workload in _of_kind(built, *WORKLOAD_KINDS):
        pod = _pod(workload)
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        wanted = ports & {"ops", "metrics"}
        for monitor in monitors:
            if _selects(monitor["spec"]["selector"], pod["metadata"]["labels"]):
                assert monitor["spec"]["jobLabel"] in pod["metadata"]["labels"]
                endpoints = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
                assert endpoints <= ports, workload["metadata"]["name"]
                wanted -= endpoints
        assert not wanted, f"{workload['metadata']['name']}: {wanted} not scraped"
        if ports & {"ops", "metrics"}:
            scraped.add(pod["metadata"]["labels"]["app.kubernetes.io/name"])
    assert scraped == {"kamailio", "binding", "auth", "provision", "menu", "admin"}


# --- kamailio/entrypoint.sh, run -----------------------------------------------


# Files the entrypoint checks before Kamailio starts (mounted Secrets).
CHECKED_FILES = ("HD_MENU_KEY_FILE", "HD_TLS_CONFIG", "HD_TLS_CERT_FILE")


def _run_entrypoint(
    built: list[Manifest],
    tmp_path: Path,
    password: str,
    missing: str = "",
    cluster: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The entrypoint on the ConfigMap's template (peers list and the
    mounted files moved into tmp_path; ``missing`` one of them left out;
    ``cluster`` the EDGE_* variables of a cluster node), with a stand-in for
    kamailio that prints where it runs and its arguments."""
    template = _kamailio_configmap(built)["data"]["kamailio-local.cfg"]
    defines = _kamailio_defines(built)
    template = template.replace(defines["HD_PEERS_FILE"], str(tmp_path / "peers/list"))
    for name in CHECKED_FILES:
        moved = tmp_path / "mounted" / name
        moved.parent.mkdir(exist_ok=True)
        if name != missing:
            moved.write_text("x")
        template = template.replace(defines[name], str(moved))
    (tmp_path / "template.cfg").write_text(template)
    (tmp_path / "password").write_text(password)
    (tmp_path / "local").mkdir()
    stub = tmp_path / "kamailio"
    stub.write_text('#!/bin/sh\npwd\necho "$@"\n')
    stub.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "EDGE_LOCAL_TEMPLATE": str(tmp_path / "template.cfg"),
        "EDGE_REDIS_PASSWORD_FILE": str(tmp_path / "password"),
        "EDGE_LOCAL_DIR": str(tmp_path / "local"),
        "EDGE_RUN_DIR": str(tmp_path / "run"),
        "EDGE_KAMAILIO": str(stub),
        **(cluster or {}),
    }
    script = K8S.parents[1] / "kamailio" / "entrypoint.sh"
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=30)
    return done, tmp_path / "local" / "kamailio-local.cfg"


def test_entrypoint_renders_the_redis_password_and_starts_kamailio(
    built: list[Manifest], tmp_path: Path
) -> None:
    done, rendered = _run_entrypoint(built, tmp_path, "0f1e2d3c4b5a\n")
    assert done.returncode == 0, done.stderr
    text = rendered.read_text()
    assert "@REDIS_PASSWORD@" not in text
    specs = re.findall(r'#!substdef "!(?:HD_REDIS|HD_SECOND_REDIS)!(.*)!g"', text)
    assert len(specs) == 3  # a Redis Cluster's two seeds, or the replica
    for spec in specs:
        assert dict(kv.split("=", 1) for kv in spec.split(";"))["pass"] == "0f1e2d3c4b5a"
    # Only the same user may read it; the rest of the template is unchanged.
    assert stat.S_IMODE(rendered.stat().st_mode) == 0o600
    template = (tmp_path / "template.cfg").read_text()
    assert text == template.replace("@REDIS_PASSWORD@", "0f1e2d3c4b5a")
    # The peers' list exists; Kamailio runs in the rendered config's directory.
    assert (tmp_path / "peers" / "list").exists()
    cwd, argv = done.stdout.splitlines()
    assert Path(cwd) == rendered.parent
    assert f"-Y {tmp_path / 'run'}" in argv and "-DD -E" in argv


@pytest.mark.parametrize("missing", CHECKED_FILES)
def test_entrypoint_refuses_to_start_without_a_file_kamailio_reads(
    built: list[Manifest], tmp_path: Path, missing: str
) -> None:
    """Checked before Kamailio starts: Kamailio 5.6 with TLS that stops from
    a worker can hang instead of exiting."""
    done, _ = _run_entrypoint(built, tmp_path, "0f1e2d3c4b5a", missing=missing)
    assert done.returncode != 0
    assert f"{missing}: " in done.stderr
    assert done.stdout == ""  # Kamailio never ran


@pytest.mark.parametrize("password", ["", "a!b", "pa;ss=x", "two\nlines"])
def test_entrypoint_refuses_a_password_the_config_cannot_hold(
    built: list[Manifest], tmp_path: Path, password: str
) -> None:
    done, rendered = _run_entrypoint(built, tmp_path, password)
    assert done.returncode != 0
    assert "Redis password" in done.stderr
    assert not rendered.exists()


def _node(built: list[Manifest], peers: str) -> dict[str, str]:
    """A cluster node's EDGE_* variables, as the pod gets them: the second
    node of the build (its own entry is never resolved), on 127.0.0.2."""
    return {
        "EDGE_DMQ_PEERS": peers,
        "EDGE_NODE_NAME": _cluster_peers(built)[1].split(".")[0],
        "EDGE_POD_IP": "127.0.0.2",
        "EDGE_PEER_WAIT_SECONDS": "1",
    }


def test_entrypoint_renders_the_redis_cluster_lines(built: list[Manifest], tmp_path: Path) -> None:
    """Production's Kamailio (EDGE_REDIS_CLUSTER) logs in as ACL user
    kamailio on the cluster, with a second seed; dev's as the replica's
    default user."""
    done, rendered = _run_entrypoint(
        built, tmp_path, "0f1e2d3c4b5a\n", cluster={"EDGE_REDIS_CLUSTER": "true"}
    )
    assert done.returncode == 0, done.stderr
    text = rendered.read_text()
    assert text.startswith("#!define HD_CLUSTER_REDIS\n")
    cluster_part = text.split("#!ifdef HD_CLUSTER_REDIS", 1)[1].split("#!else", 1)[0]
    specs = re.findall(r'#!substdef "!(HD_REDIS|HD_SECOND_REDIS)!(.*)!g"', cluster_part)
    assert [name for name, _ in specs] == ["HD_REDIS", "HD_SECOND_REDIS"]
    for _, spec in specs:
        fields = dict(kv.split("=", 1) for kv in spec.split(";"))
        assert (fields["user"], fields["pass"]) == ("kamailio", "0f1e2d3c4b5a")


def test_production_kamailio_reads_the_redis_cluster_and_advertises_its_node() -> None:
    production = [d for d in yaml.safe_load_all(_build("production")) if d]
    (container,) = _pod(_workload(production, "kamailio"))["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env.get("EDGE_REDIS_CLUSTER") == "true"
    # Its own name per pod: Kubernetes expands $(EDGE_NODE_NAME), declared before.
    names = [e["name"] for e in container["env"]]
    assert names.index("EDGE_NODE_NAME") < names.index("EDGE_ADVERTISE_HOST")
    assert env["EDGE_ADVERTISE_HOST"].startswith("$(EDGE_NODE_NAME).")


def test_entrypoint_puts_the_advertised_host_in_both_advertise_lines(
    built: list[Manifest], tmp_path: Path
) -> None:
    done, rendered = _run_entrypoint(
        built, tmp_path, "0f1e2d", cluster={"EDGE_ADVERTISE_HOST": "kamailio-1.sip.example"}
    )
    assert done.returncode == 0, done.stderr
    defines = dict(re.findall(r'#!substdef "!(HD_[A-Z_]*ADVERTISE)!(.*)!g"', rendered.read_text()))
    assert defines == {
        "HD_ADVERTISE": "kamailio-1.sip.example:5060",
        "HD_TLS_ADVERTISE": "kamailio-1.sip.example:5061",
    }
    (tmp_path / "bad").mkdir()
    bad, _ = _run_entrypoint(
        built, tmp_path / "bad", "0f1e2d", cluster={"EDGE_ADVERTISE_HOST": "a/b"}
    )
    assert bad.returncode != 0
    assert "EDGE_ADVERTISE_HOST" in bad.stderr


@PRODUCTION
def test_entrypoint_renders_a_cluster_nodes_addresses(
    built: list[Manifest], tmp_path: Path
) -> None:
    """The build's node list with the other nodes' names standing in for
    names that resolve here (localhost, an address): their IPs and this
    node's own addresses, in exactly the lines local_config writes for a
    cluster node (what tests/edge/test_cluster.py runs Kamailio with)."""
    first, own = _cluster_peers(built)[:2]
    port = first.rsplit(":", 1)[1]
    peers = f"localhost:{port} {own} 127.0.0.3:{port}"
    done, rendered = _run_entrypoint(built, tmp_path, "0f1e2d", cluster=_node(built, peers))
    assert done.returncode == 0, done.stderr
    text = rendered.read_text()
    template = (tmp_path / "template.cfg").read_text().replace("@REDIS_PASSWORD@", "0f1e2d")
    assert text.startswith(template)
    added = text.removeprefix(template).splitlines()
    sip_port = _kamailio_defines(built)["HD_LISTEN"].rsplit(":", 1)[1]
    own_port = own.rsplit(":", 1)[1]
    node = EdgeAddresses(
        f"udp:127.0.0.2:{sip_port}",
        "tcp:127.0.0.1:5080",
        "127.0.0.1",
        6379,
        "http://127.0.0.1:7180/v1/route",
        "sip:a",
        "sip:b",
        dmq_listen=f"udp:127.0.0.2:{own_port}",
        dmq_peers=(f"127.0.0.1:{port}", f"127.0.0.3:{port}"),
    )
    expected = [
        line
        for line in local_config(node).splitlines()
        if re.search(r'"!HD_(DMQ_[A-Z_0-9]+|NODE_ADDRESS)!', line)
    ]
    assert sorted(added) == sorted(expected)
    assert _undefined_names(text, cluster=True) == set()


@PRODUCTION
def test_entrypoint_starts_without_a_peer_whose_name_does_not_resolve(
    built: list[Manifest], tmp_path: Path
) -> None:
    """After its wait, with the peers it has (it learns the others when
    they notify it), and says so."""
    own = _cluster_peers(built)[1]
    peers = f"127.0.0.1:5090 {own} no-such-node.invalid:5090"
    done, rendered = _run_entrypoint(built, tmp_path, "0f1e2d", cluster=_node(built, peers))
    assert done.returncode == 0, done.stderr
    assert "no-such-node.invalid does not resolve" in done.stderr
    peer_lines = re.findall(r'"!HD_DMQ_PEER_(\d)!(.*)!g"', rendered.read_text())
    assert peer_lines == [("1", "127.0.0.1:5090")]


@PRODUCTION
@pytest.mark.parametrize(
    ("peers", "error"),
    [
        ("127.0.0.1:5090 127.0.0.3:5090", "does not name this node"),
        ("{own} 127.0.0.3", "is not host:port"),
        ("{own} " + " ".join(f"127.0.0.{i}:5090" for i in range(3, 8)), "at most 4 peers"),
    ],
)
def test_entrypoint_refuses_a_cluster_it_cannot_render(
    built: list[Manifest], tmp_path: Path, peers: str, error: str
) -> None:
    own = _cluster_peers(built)[1]
    cluster = _node(built, peers.format(own=own))
    done, _ = _run_entrypoint(built, tmp_path, "0f1e2d", cluster=cluster)
    assert done.returncode != 0
    assert error in done.stderr
    assert done.stdout == ""  # Kamailio never ran


# --- The operators' tool pod (deploy/k8s/examples/operator-tools.yaml) --------


def test_the_operators_pod_is_restricted_and_let_through(built: list[Manifest]) -> None:
    pod = _tools_pod()
    _assert_restricted(pod["spec"], "operator-tools")
    assert pod["metadata"]["namespace"] == _namespace(built)
    labels = pod["metadata"]["labels"]
    assert labels.items() >= OPERATOR_TOOLS.items()
    source = Peer.pod(labels, pod["metadata"]["namespace"], _pod_address(built))
    (container,) = pod["spec"]["containers"]
    env = _env(container)
    for var in env:
        assert var.startswith("HOTDESK_CLI_"), var
        assert var.removeprefix("HOTDESK_CLI_").lower() in CliSettings.model_fields, var
    # Every service it is configured to call, and Redis, let through.
    calls = [v.rsplit(":", 1) for k, v in env.items() if k.endswith("_ADDRESS")]
    redis = urlsplit(env["HOTDESK_CLI_REDIS_URL"])
    calls.append([str(redis.hostname), str(redis.port)])
    assert len(calls) == 4
    for host, port in calls:
        destination, target = _service_target(built, host, int(port))
        assert _flow(built, source, destination, target, "TCP"), host


def test_the_operators_pod_acts_with_its_own_certificate(built: list[Manifest]) -> None:
    pod = _tools_pod()
    (container,) = pod["spec"]["containers"]
    env = _env(container)
    mounts = _spec_mounts(pod["spec"])
    (certificate,) = _of_kind(_tools_example(), "Certificate")
    spec = certificate["spec"]
    # The certificate is who acts: an operator's, named after the pod's owner.
    assert spec["commonName"].startswith("operator:")
    assert spec["commonName"].removeprefix("operator:") in pod["metadata"]["name"]
    assert spec["issuerRef"]["name"] in {i["metadata"]["name"] for i in _of_kind(built, "Issuer")}
    assert "server auth" not in spec["usages"]
    for setting, key in [("CERT", "tls.crt"), ("KEY", "tls.key"), ("CA", "ca.crt")]:
        path = env[f"HOTDESK_CLI_GRPC_TLS_{setting}_FILE"]
        assert _mounted_file(mounts, path) == (spec["secretName"], key)
    user = urlsplit(env["HOTDESK_CLI_REDIS_URL"]).username
    password = env["HOTDESK_CLI_REDIS_PASSWORD_FILE"]
    assert _mounted_file(mounts, password) == (f"hotdesk-redis-{user}", "password")
    secrets_key = env["HOTDESK_CLI_SECRETS_KEY_FILE"]
    assert _mounted_file(mounts, secrets_key) == ("hotdesk-secrets-key", "key")
    digest_key = env["HOTDESK_CLI_PIN_DIGEST_KEY_FILE"]
    assert _mounted_file(mounts, digest_key) == ("hotdesk-pin-digest-key", "key")


# --- The Secrets' files, printed by services.devstack.redis_acl ---------------


def test_the_acl_cli_prints_the_replicas_secret_files(tmp_path: Path) -> None:
    """What the README has operators put in hotdesk-redis-acl (replica.acl)
    and hotdesk-redis-replica-config (redis.conf)."""
    passwords = redis_acl.ensure_passwords(tmp_path)

    def cli(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.devstack.redis_acl", *argv],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=K8S.parents[1],
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert cli("replica-auth", str(tmp_path)) == f"masterauth {passwords['replica']}\n"
    (line,) = cli("replica", str(tmp_path)).splitlines()
    kamailio = hashlib.sha256(passwords["kamailio"].encode()).hexdigest()
    assert line.startswith(f"user default on #{kamailio} ")
    assert passwords["kamailio"] not in line  # its hash only
