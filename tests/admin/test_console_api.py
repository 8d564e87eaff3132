"""The routes the console added: the phone profiles its key editor uses and
the provisioning list, through the real provision service, scoped to the
operator's tenants, audited."""

from tests.support.admin import AdminStack

GUS = "/api/v1/users/globex/3001/profiles"
KEYS = {
    "keys": [
        {"kind": "blf", "value": "3002", "label": "Reception"},
        {"kind": "speed_dial", "value": "+442071234999", "label": "Front desk"},
    ],
    "ringer": 3,
}


async def test_a_tenant_admin_writes_reads_and_deletes_a_profile(admin: AdminStack) -> None:
    async with admin.signed_in("gx-admin") as gx:
        missing = await gx.call("GET", f"{GUS}/yealink/T54W", 404)
        saved = await gx.call("PUT", f"{GUS}/yealink/T54W", 200, KEYS)
        read = await gx.call("GET", f"{GUS}/yealink/T54W", 200)
        listed = await gx.call("GET", GUS, 200)
        bad = await gx.call("PUT", f"{GUS}/nokia/X1", 400, KEYS)
        await gx.call("DELETE", f"{GUS}/yealink/T54W", 204)
        after = await gx.call("GET", GUS, 200)
        trail = await gx.call("GET", "/api/v1/audit?event=admin_profile_saved", 200)
    assert "no profile" in missing["error"]
    assert saved["keys"] == KEYS["keys"] and saved["ringer"] == 3
    assert read == saved
    assert [(p["vendor"], p["model"]) for p in listed["items"]] == [("yealink", "T54W")]
    assert "vendor must be one of" in bad["error"]
    assert after["items"] == []
    assert [e["actor"] for e in trail["items"]] == ["service:admin/gx-admin"]
    assert trail["items"][0]["details"]["model"] == "yealink/T54W"


async def test_another_tenants_user_is_404_and_helpdesk_may_only_read(admin: AdminStack) -> None:
    async with admin.signed_in("acme-admin") as acme:
        await acme.call("GET", GUS, 404)
        await acme.call("PUT", f"{GUS}/yealink/T54W", 404, KEYS)
        await acme.call("DELETE", f"{GUS}/yealink/T54W", 404)
    async with admin.signed_in("acme-help") as helpdesk:
        await helpdesk.call("GET", "/api/v1/users/acme/1001/profiles", 200)
        refused = await helpdesk.call(
            "PUT", "/api/v1/users/acme/1001/profiles/yealink/T54W", 403, KEYS
        )
    assert refused["error"] == "a helpdesk may not edit_profile"


async def test_the_provisioning_list_is_scoped_and_paged(admin: AdminStack) -> None:
    await admin.stack.login("hd3002", "1002")
    async with admin.signed_in("gx-admin") as gx:
        globex = await gx.call("GET", "/api/v1/provisioning", 200)
        elsewhere = await gx.call("GET", "/api/v1/provisioning?tenant=acme", 200)
    async with admin.with_token("root") as root:
        first = await root.call("GET", "/api/v1/provisioning?limit=3", 200)
        rest = await root.call(
            "GET", f"/api/v1/provisioning?limit=3&cursor={first['next_cursor']}", 200
        )
    assert [d["device"]["device_id"] for d in globex["items"]] == ["gx4001"]
    assert elsewhere["items"] == []
    assert [d["device"]["device_id"] for d in first["items"] + rest["items"]] == [
        "gx4001",
        "hd3001",
        "hd3002",
        "hd3003",
    ]
    assert rest["next_cursor"] is None
    (bob,) = [d for d in first["items"] if d["device"]["device_id"] == "hd3002"]
    assert bob["device"]["session"]["extension"] == "1002"
    # Bob's login changed the phone's file; the phone has not fetched it yet.
    assert bob["provisioning"]["provisioned"] is False
    assert bob["provisioning"]["generation"] > bob["provisioning"]["fetched_generation"]
