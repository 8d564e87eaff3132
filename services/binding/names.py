"""The proto enums' values as events, logs and metric labels spell them:
lowercase, without the prefix ("takeover", "logged_in")."""

from collections.abc import Iterable
from typing import TypeVar

from hotdesk.v1 import binding_pb2 as pb

V = TypeVar("V", bound=int)


def _lowercase(enum_items: Iterable[tuple[str, V]], prefix: str) -> dict[V, str]:
    """Enum number -> name, for every value but UNSPECIFIED."""
    return {
        number: name.removeprefix(prefix).lower()
        for name, number in enum_items
        if not name.endswith("_UNSPECIFIED")
    }


CHANGE_REASONS = _lowercase(pb.ChangeReason.items(), "CHANGE_REASON_")
LOGIN_RESULTS = _lowercase(pb.LoginResult.items(), "LOGIN_RESULT_")
LOGIN_RESULT_BY_NAME = {name: number for number, name in LOGIN_RESULTS.items()}
