"""`make run` or `make cluster` as a process of a test: started in its own
session, read until its banner's ``ready_line``, stopped with Ctrl-C (and
killed, with everything it started, if that does not end it)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def devstack_process(
    module: str, env: dict[str, str], ready_line: str, within: float = 180
) -> Iterator[tuple["subprocess.Popen[str]", list[str]]]:
    """``python -m <module>`` with ``env``; yields it and its output so far."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + within
        for line in proc.stdout:
            output.append(line)
            if ready_line in line:
                break
            assert time.monotonic() < deadline, "".join(output[-40:])
        # Why it stopped, if it did: its own last words and who exited.
        why = [line for line in output if line.startswith("make ") or " exited" in line]
        assert proc.poll() is None, "".join(why + output[-40:])
        yield proc, output
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def operator_cli_env(
    data_dir: Path, binding: int, auth: int, provision: int, admin_http: int
) -> dict[str, str]:
    """The `hotdesk` CLI's settings for a stack under ``data_dir`` whose
    services' gRPC ports and admin API port are given (the operator's
    certificate of its CA, the demo platform admin's API token)."""
    pki = data_dir / "pki"
    return {
        "HOTDESK_CLI_ADMIN_URL": f"http://127.0.0.1:{admin_http}",
        "HOTDESK_CLI_ADMIN_TOKEN_FILE": str(data_dir / "secrets" / "admin-token"),
        "HOTDESK_CLI_BINDING_ADDRESS": f"127.0.0.1:{binding}",
        "HOTDESK_CLI_AUTH_ADDRESS": f"127.0.0.1:{auth}",
        "HOTDESK_CLI_PROVISION_ADDRESS": f"127.0.0.1:{provision}",
        "HOTDESK_CLI_GRPC_TLS_CERT_FILE": str(pki / "operator.crt"),
        "HOTDESK_CLI_GRPC_TLS_KEY_FILE": str(pki / "operator.key"),
        "HOTDESK_CLI_GRPC_TLS_CA_FILE": str(pki / "ca.crt"),
    }
