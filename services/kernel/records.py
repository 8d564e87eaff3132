"""Records the directory stores in Redis and every service reads.

Each is strict where it is written (an unknown key in the directory file is
a typo to report) and tolerant where it is read back: during a rolling
upgrade the next version may already store fields this one does not know,
and this one must keep loading tenants and peers rather than stop. Read
stored JSON with ``stored(Model, doc)``; fields it does not know are
dropped, at every level.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

_TOLERANT = {"stored": True}
# The records' schema this version writes. A version reads records of a
# newer schema (it ignores what it does not know) but does not import over
# them: its import would drop what it does not know.
SCHEMA_VERSION = 3  # 2: tenants' phone_profiles; 3: their settings


class Record(BaseModel):
    """A stored record: unknown keys are errors, except when read back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_unknown_when_stored(cls, data: Any, info: ValidationInfo) -> Any:
        if not (info.context or {}).get("stored") or not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        return {k: v for k, v in data.items() if k in known}


R = TypeVar("R", bound=Record)


def stored(model: type[R], doc: str | bytes) -> R:
    """``doc`` (as Redis holds it) as ``model``, whichever version wrote it."""
    return model.model_validate_json(doc, context=_TOLERANT)
