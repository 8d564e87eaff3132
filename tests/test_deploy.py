"""The Kubernetes manifests agree with the services' settings: every
variable they set exists, and the ports they expose are the ones set."""

import re
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from services.auth.settings import AuthSettings
from services.binding.settings import BindingSettings
from services.devstack.kamailio import EdgeAddresses, local_config
from services.provision.settings import ProvisionSettings

K8S = Path(__file__).parents[1] / "deploy" / "k8s"


def deployment(name: str) -> dict[str, object]:
    """The Deployment (or StatefulSet) of a manifest."""
    docs = list(yaml.safe_load_all((K8S / f"{name}.yaml").read_text()))
    (found,) = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    return found  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("name", "settings", "prefix"),
    [
        ("binding", BindingSettings, "HOTDESK_BINDING_"),
        ("auth", AuthSettings, "HOTDESK_AUTH_"),
        ("provision", ProvisionSettings, "HOTDESK_PROVISION_"),
    ],
)
def test_manifest_env_and_ports_match_settings(
    name: str, settings: type[BaseSettings], prefix: str
) -> None:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    env = {e["name"]: e.get("value", "from the pod") for e in container["env"]}
    for var in env:
        assert var.startswith(prefix), var
        assert var.removeprefix(prefix).lower() in settings.model_fields, var
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port_name, number in ports.items():
        assert env[f"{prefix}{port_name.upper()}_PORT"] == str(number)
    assert container["args"] == [f"services.{name}"]
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/readyz", "ops")


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def _undefined_names(local_cfg: str) -> set[str]:
    """HD_* names kamailio.cfg uses that a kamailio-local.cfg leaves unset."""
    config = (K8S.parent.parent / "kamailio" / "kamailio.cfg").read_text()
    optional = set(re.findall(r"#!ifn?def (HD_[A-Z_]+)", config))  # guarded or defaulted
    used = set(re.findall(r"\bHD_[A-Z_]+\b", config)) - optional
    return used - set(re.findall(r'"!(HD_[A-Z_]+)!', local_cfg))


def test_kamailio_configmap_defines_what_the_config_needs() -> None:
    docs = list(yaml.safe_load_all((K8S / "kamailio.yaml").read_text()))
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
