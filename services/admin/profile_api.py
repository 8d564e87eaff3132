"""A user's phone profiles, one per vendor/model (the keys from key 2 on
and the ringer), through the provision service: list, read, write, delete.
Scoped like every user route: another tenant's user is 404."""

from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import provision_pb2 as ppb

from services.admin.actions import audited, remote
from services.admin.models import (
    KeyKind,
    ProfileBody,
    ProfileKeyView,
    ProfileList,
    ProfilePath,
    ProfileView,
    UserPath,
)
from services.admin.operators import Action
from services.admin.routes import Call, Route
from services.admin.user_api import checked_user

_KINDS: dict[ppb.ProfileKeyKind.ValueType, KeyKind] = {
    ppb.PROFILE_KEY_KIND_BLF: "blf",
    ppb.PROFILE_KEY_KIND_SPEED_DIAL: "speed_dial",
}
_KIND_ENUMS = {name: kind for kind, name in _KINDS.items()}


def _view(p: ppb.Profile) -> ProfileView:
    return ProfileView(
        vendor=p.vendor,
        model=p.model,
        keys=[
            ProfileKeyView(kind=_KINDS.get(k.kind, "blf"), value=k.value, label=k.label)
            for k in p.keys
        ],
        ringer=p.ringer,
        updated_unix_ms=p.updated_unix_ms,
    )


def _path(call: Call) -> tuple[ProfilePath, bpb.UserRef]:
    path = call.path_as(ProfilePath)
    checked_user(call, UserPath(tenant=path.tenant, extension=path.extension))
    return path, bpb.UserRef(tenant=path.tenant, extension=path.extension)


async def list_profiles(call: Call) -> ProfileList:
    user = checked_user(call, call.path_as(UserPath))
    reply = await remote(
        "provision",
        call.context.provision.ListProfiles(
            ppb.ListProfilesRequest(user=bpb.UserRef(tenant=user.tenant, extension=user.extension)),
            timeout=call.context.rpc_timeout,
        ),
    )
    return ProfileList(items=[_view(p) for p in reply.profiles])


async def get_profile(call: Call) -> ProfileView:
    path, ref = _path(call)
    reply = await remote(
        "provision",
        call.context.provision.GetProfile(
            ppb.GetProfileRequest(user=ref, vendor=path.vendor, model=path.model),
            timeout=call.context.rpc_timeout,
        ),
    )
    return _view(reply)


async def put_profile(call: Call) -> ProfileView:
    path, ref = _path(call)
    body = call.body_as(ProfileBody)
    profile = ppb.Profile(
        user=ref,
        vendor=path.vendor,
        model=path.model,
        keys=[
            ppb.ProfileKey(kind=_KIND_ENUMS[k.kind], value=k.value, label=k.label)
            for k in body.keys
        ],
        ringer=body.ringer,
    )
    reply = await remote(
        "provision",
        call.context.provision.PutProfile(
            ppb.PutProfileRequest(profile=profile, actor=call.who.name),
            timeout=call.context.rpc_timeout,
        ),
    )
    await audited(
        call.context,
        call.who,
        "admin_profile_saved",
        path.tenant,
        user=f"{path.tenant}/{path.extension}",
        model=f"{path.vendor}/{path.model}",
        keys=len(body.keys),
    )
    return _view(reply)


async def delete_profile(call: Call) -> None:
    path, ref = _path(call)
    reply = await remote(
        "provision",
        call.context.provision.DeleteProfile(
            ppb.DeleteProfileRequest(
                user=ref, vendor=path.vendor, model=path.model, actor=call.who.name
            ),
            timeout=call.context.rpc_timeout,
        ),
    )
    await audited(
        call.context,
        call.who,
        "admin_profile_deleted",
        path.tenant,
        user=f"{path.tenant}/{path.extension}",
        model=f"{path.vendor}/{path.model}",
        deleted=int(reply.deleted),
    )


_ONE = "/users/{tenant}/{extension}/profiles/{vendor}/{model}"
ROUTES = [
    Route(
        "GET",
        "/users/{tenant}/{extension}/profiles",
        list_profiles,
        "The user's phone profiles, one per vendor/model",
        "profiles",
        Action.READ,
        ProfileList,
        path_model=UserPath,
        remote=True,
    ),
    Route(
        "GET",
        _ONE,
        get_profile,
        "The user's phone profile for one vendor/model",
        "profiles",
        Action.READ,
        ProfileView,
        path_model=ProfilePath,
        remote=True,
        errors=(400,),
    ),
    Route(
        "PUT",
        _ONE,
        put_profile,
        "Write the user's profile for one vendor/model (the phone resyncs if the user is on one)",
        "profiles",
        Action.PROFILE,
        ProfileView,
        path_model=ProfilePath,
        body=ProfileBody,
        remote=True,
    ),
    Route(
        "DELETE",
        _ONE,
        delete_profile,
        "Delete the user's profile for one vendor/model (the tenant's default returns)",
        "profiles",
        Action.PROFILE,
        path_model=ProfilePath,
        remote=True,
        errors=(400,),
    ),
]
