"""The project's container images (built by scripts/images.sh, as `make
images` does), run by tests with podman the way the manifests run them:
the image's non-root user, a read-only root filesystem with writable
emptyDir-like mounts, no capabilities, and Secrets mounted as Kubernetes
mounts them. Containers use the host's network, so everything they serve
and reach is on loopback ports the test picks."""

import os
import shutil
import subprocess
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# podman's settings for the project's invocations (runc, explicit ulimits).
_ENV = os.environ | {"CONTAINERS_CONF": str(ROOT / "scripts" / "images" / "containers.conf")}
_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SERVICES_IMAGE = f"hotdesk-edge:{_VERSION}"
KAMAILIO_IMAGE = f"hotdesk-edge-kamailio:{_VERSION}"

# The pods' securityContext. Only the mounts given are writable.
RESTRICTED = (
    "--network=host",
    "--read-only",
    "--read-only-tmpfs=false",
    "--cap-drop=all",
    "--security-opt=no-new-privileges",
)


def build_images() -> None:
    """Both images, through the script `make images` runs (its base images
    and podman's layer cache make a repeated build cost seconds)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "images.sh")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/images.sh failed:\n{done.stderr[-5000:]}")


def podman(*args: str, timeout: float = 60) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        ["podman", *args], env=_ENV, capture_output=True, text=True, timeout=timeout, check=False
    )


def secret_volume(folder: Path, files: dict[str, Path], gid: int) -> Path:
    """``files`` (name in the volume -> source) in ``folder`` as a Secret
    volume shows them to a pod with fsGroup ``gid`` and defaultMode 0440."""
    folder.mkdir(parents=True)
    for name, source in files.items():
        target = folder / name
        shutil.copyfile(source, target)
        os.chown(target, 0, gid)
        target.chmod(0o440)
    return folder


def mounts(volumes: dict[str, Path], writable: tuple[str, ...]) -> list[str]:
    """podman options: each of ``volumes`` (mount point -> folder) read-only,
    a fresh tmpfs (an emptyDir) owned by the container's user at each of
    ``writable``."""
    return [
        *(f"--volume={folder}:{point}:ro" for point, folder in volumes.items()),
        *(f"--mount=type=tmpfs,destination={point},chown" for point in writable),
    ]


class Container:
    """``podman run -d`` of ``image`` with ``options`` and ``args``."""

    def __init__(self, image: str, options: list[str], args: tuple[str, ...] = ()) -> None:
        self.name = f"hotdesk-test-{uuid.uuid4().hex[:12]}"
        self.image = image
        self.options = options
        self.args = args

    def start(self) -> None:
        done = podman("run", "-d", f"--name={self.name}", *self.options, self.image, *self.args)
        if done.returncode != 0:
            raise RuntimeError(f"podman run {self.image} failed:\n{done.stderr}")

    def running(self) -> bool:
        done = podman("inspect", "--format={{.State.Running}}", self.name)
        return done.stdout.strip() == "true"

    def logs(self) -> str:
        done = podman("logs", self.name)
        return done.stdout + done.stderr

    def wait_until_serving(self, url: str, within: float) -> None:
        """Until ``url`` answers 2xx; fails with the container's log if it
        stops or does not answer ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                if not self.running():
                    raise RuntimeError(f"{self.image} stopped:\n{self.logs()[-3000:]}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.image} not serving:\n{self.logs()[-3000:]}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM (SIGKILL after 10 s), as a pod's termination; the exit code."""
        podman("stop", "--time=10", self.name, timeout=30)
        done = podman("inspect", "--format={{.State.ExitCode}}", self.name)
        return int(done.stdout.strip())

    def remove(self) -> None:
        podman("rm", "--force", "--time=2", self.name, timeout=30)


@contextmanager
def running(container: Container) -> Iterator[Container]:
    container.start()
    try:
        yield container
    finally:
        container.remove()
