"""What a dialled number means: an emergency call, a feature code, or
nothing special (then the callee is looked up as a user)."""

from hotdesk.v1 import binding_pb2 as pb

from services.kernel.tenants import TenantConfig

NOT_SPECIAL: tuple[pb.CalleeKind.ValueType, str] = (pb.CALLEE_KIND_UNSPECIFIED, "")


def classify(
    number: str, caller: TenantConfig | None, dialled_in: TenantConfig | None
) -> tuple[pb.CalleeKind.ValueType, str]:
    """(CalleeKind, feature) of ``number``, or NOT_SPECIAL.

    Emergency numbers are the caller tenant's (the device's own tenant decides
    what it may dial when idle); feature codes are those of the tenant the
    number is dialled in (the callee domain's, the caller's own for calls
    within the tenant).
    """
    if caller is not None and number in caller.emergency_numbers:
        return pb.CALLEE_KIND_EMERGENCY, ""
    code = dialled_in.feature_codes.match(number) if dialled_in is not None else None
    if code is None:
        return NOT_SPECIAL
    return pb.CALLEE_KIND_FEATURE_CODE, code.feature
