"""Profiles per user per phone model: made from the tenant's default at the
first login on a model, kept after logout, managed over gRPC."""

import grpc
import pytest
from hotdesk.v1 import binding_pb2 as bpb
from hotdesk.v1 import provision_pb2 as pb

from tests.support.provision import YEALINK_T54W_UA, Stack, phone_session

ALICE = bpb.UserRef(tenant="acme", extension="1001")


async def fetch_hd3001(stack: Stack) -> str:
    async with (
        phone_session(YEALINK_T54W_UA, "hd3001") as session,
        session.get(f"{stack.url}/001565aa3001.cfg") as r,
    ):
        assert r.status == 200
        return await r.text()


def keys_of(p: pb.Profile) -> list[tuple[int, str, str]]:
    return [(k.kind, k.value, k.label) for k in p.keys]


DEFAULT = [
    (pb.PROFILE_KEY_KIND_BLF, "1001", "Alice"),
    (pb.PROFILE_KEY_KIND_BLF, "1002", "Bob"),
    (pb.PROFILE_KEY_KIND_SPEED_DIAL, "+4930123450000", "Reception"),
]


async def test_first_login_on_a_model_creates_the_profile_from_the_default(stack: Stack) -> None:
    rpc = stack.provision_stub()
    with pytest.raises(grpc.aio.AioRpcError) as none_yet:
        await rpc.GetProfile(pb.GetProfileRequest(user=ALICE, vendor="yealink", model="T54W"))
    assert none_yet.value.code() == grpc.StatusCode.NOT_FOUND
    await stack.login("hd3001", "1001")
    await fetch_hd3001(stack)
    made = await rpc.GetProfile(pb.GetProfileRequest(user=ALICE, vendor="yealink", model="T54W"))
    assert keys_of(made) == DEFAULT
    listed = await rpc.ListProfiles(pb.ListProfilesRequest(user=ALICE))
    assert [(p.vendor, p.model) for p in listed.profiles] == [("yealink", "T54W")]


async def test_profile_survives_logout_and_returns_on_the_same_model(stack: Stack) -> None:
    rpc = stack.provision_stub()
    mine = [pb.ProfileKey(kind=pb.PROFILE_KEY_KIND_BLF, value="1003", label="Carol C")]
    await rpc.PutProfile(
        pb.PutProfileRequest(
            profile=pb.Profile(user=ALICE, vendor="yealink", model="T54W", keys=mine, ringer=3),
            actor="test",
        )
    )
    await stack.login("hd3001", "1001")
    logged_in = await fetch_hd3001(stack)
    assert "Carol C" in logged_in and "Reception" not in logged_in
    await stack.logout("hd3001")
    idle = await fetch_hd3001(stack)
    assert "Carol C" not in idle
    await stack.login("hd3001", "1001")
    assert "Carol C" in await fetch_hd3001(stack)
    kept = await rpc.GetProfile(pb.GetProfileRequest(user=ALICE, vendor="yealink", model="T54W"))
    assert keys_of(kept) == [(pb.PROFILE_KEY_KIND_BLF, "1003", "Carol C")] and kept.ringer == 3


async def test_profiles_are_per_model(stack: Stack) -> None:
    rpc = stack.provision_stub()
    await rpc.PutProfile(
        pb.PutProfileRequest(
            profile=pb.Profile(
                user=ALICE,
                vendor="yealink",
                model="T46U",
                keys=[pb.ProfileKey(kind=pb.PROFILE_KEY_KIND_SPEED_DIAL, value="200", label="Lab")],
            )
        )
    )
    await stack.login("hd3001", "1001")  # a T54W: still the default there
    body = await fetch_hd3001(stack)
    assert "Reception" in body and "Lab" not in body


async def test_bad_profiles_are_refused_whole(stack: Stack) -> None:
    rpc = stack.provision_stub()
    bad = [
        pb.ProfileKey(kind=pb.PROFILE_KEY_KIND_BLF, value="1002", label="Bob"),
        pb.ProfileKey(kind=pb.PROFILE_KEY_KIND_BLF, value="10a2", label='Bo"b'),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rpc.PutProfile(
            pb.PutProfileRequest(
                profile=pb.Profile(user=ALICE, vendor="yealink", model="T54W", keys=bad)
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "keys.1.value" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as nothing:
        await rpc.GetProfile(pb.GetProfileRequest(user=ALICE, vendor="yealink", model="T54W"))
    assert nothing.value.code() == grpc.StatusCode.NOT_FOUND
    for user, vendor, code in [
        (bpb.UserRef(tenant="acme", extension="9999"), "yealink", grpc.StatusCode.NOT_FOUND),
        (ALICE, "cisco", grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rpc.PutProfile(
                pb.PutProfileRequest(profile=pb.Profile(user=user, vendor=vendor, model="T54W"))
            )
        assert err.value.code() == code


async def test_delete_then_next_login_starts_from_the_default(stack: Stack) -> None:
    rpc = stack.provision_stub()
    await rpc.PutProfile(
        pb.PutProfileRequest(profile=pb.Profile(user=ALICE, vendor="yealink", model="T54W"))
    )
    r = await rpc.DeleteProfile(pb.DeleteProfileRequest(user=ALICE, vendor="yealink", model="T54W"))
    assert r.deleted
    again = await rpc.DeleteProfile(
        pb.DeleteProfileRequest(user=ALICE, vendor="yealink", model="T54W")
    )
    assert not again.deleted
    await stack.login("hd3001", "1001")
    assert "Reception" in await fetch_hd3001(stack)
