"""What a dialled number means in a tenant: emergency, feature code, other."""

from hotdesk.v1 import binding_pb2 as pb

from services.kernel.tenants import TenantConfig


def classify(tenant: TenantConfig, number: str) -> tuple[pb.CalleeKind.ValueType, str]:
    """(CalleeKind, feature) for numbers the tenant gives a meaning;
    (CALLEE_KIND_UNSPECIFIED, "") for everything else."""
    if number in tenant.emergency_numbers:
        return pb.CALLEE_KIND_EMERGENCY, ""
    codes = tenant.feature_codes
    if number == codes.login:
        return pb.CALLEE_KIND_FEATURE_CODE, "login"
    if number == codes.logout:
        return pb.CALLEE_KIND_FEATURE_CODE, "logout"
    prefix = codes.login_with_extension_prefix
    if number.startswith(prefix) and number.endswith("*"):
        extension = number[len(prefix) : -1]
        if extension.isdigit():
            return pb.CALLEE_KIND_FEATURE_CODE, "login_ext"
    return pb.CALLEE_KIND_UNSPECIFIED, ""
