"""Settings for services started in-process by tests: free ports, quick
drains, cheap argon2 (the production cost has its own test)."""

from services.auth.settings import AuthSettings
from services.binding.settings import BindingSettings
from tests.support.pki import tls_settings

CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 8, "argon2_parallelism": 1}


def binding_settings(redis_url: str, **overrides: object) -> BindingSettings:
    return BindingSettings.model_validate(
        {
            **tls_settings("service:binding"),
            "redis_url": redis_url,
            "grpc_port": 0,
            "http_port": 0,
            "ops_port": 0,
            "shutdown_grace_seconds": 1,
            "expiry_interval_seconds": 0.1,
            **overrides,
        }
    )


def auth_settings(redis_url: str, binding_port: int = 0, **overrides: object) -> AuthSettings:
    return AuthSettings.model_validate(
        {
            **CHEAP_ARGON2,
            **tls_settings("service:auth"),
            "redis_url": redis_url,
            "grpc_port": 0,
            "ops_port": 0,
            "binding_address": f"127.0.0.1:{binding_port}",
            "shutdown_grace_seconds": 1,
            **overrides,
        }
    )
