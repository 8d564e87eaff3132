"""The Kubernetes manifests agree with the services' settings: every
variable they set exists, and the ports they expose are the ones set."""

from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from services.auth.settings import AuthSettings
from services.binding.settings import BindingSettings

K8S = Path(__file__).parents[1] / "deploy" / "k8s"


def deployment(name: str) -> dict[str, object]:
    docs = list(yaml.safe_load_all((K8S / f"{name}.yaml").read_text()))
    (found,) = [d for d in docs if d["kind"] == "Deployment"]
    return found  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("name", "settings", "prefix"),
    [("binding", BindingSettings, "HOTDESK_BINDING_"), ("auth", AuthSettings, "HOTDESK_AUTH_")],
)
def test_manifest_env_and_ports_match_settings(
    name: str, settings: type[BaseSettings], prefix: str
) -> None:
    (container,) = deployment(name)["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    env = {e["name"]: e["value"] for e in container["env"]}
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
