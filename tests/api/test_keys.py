"""/api/v1/keys: create (shown once), list (prefixes only), revoke, tenant scope."""

from __future__ import annotations

from agency.db.keys import parse_key_id
from tests.api.conftest import ApiUnderTest


async def test_create_list_revoke(api: ApiUnderTest) -> None:
    created = await api.http.post("/api/v1/keys", json={"name": "ci-bot", "role": "operator"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"].startswith("aa_") and parse_key_id(body["key"]) == body["id"]
    assert body["prefix"] == f"aa_{body['id']}" and body["tenant"] == "default"

    bot = api.client(body["key"])
    me = (await bot.get("/api/v1/keys/me")).json()
    assert (me["name"], me["role"], me["tenant"]) == ("ci-bot", "operator", "default")
    assert (await bot.get("/api/v1/keys")).status_code == 403

    listed = (await api.http.get("/api/v1/keys")).json()["items"]
    assert [k["name"] for k in listed] == ["tester", "ci-bot"]
    assert all("key" not in k for k in listed)
    shown = (await api.http.get(f"/api/v1/keys/{body['id']}")).json()
    assert shown["last_used_at"] is not None  # the bot's request above

    revoked = await api.http.delete(f"/api/v1/keys/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = await api.http.delete(f"/api/v1/keys/{body['id']}")
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert [k["name"] for k in (await api.http.get("/api/v1/keys")).json()["items"]] == ["tester"]
    everything = (await api.http.get("/api/v1/keys?include_revoked=true")).json()["items"]
    assert len(everything) == 2


async def test_the_last_admin_key_cannot_be_revoked(api: ApiUnderTest) -> None:
    me = (await api.http.get("/api/v1/keys/me")).json()
    refused = await api.http.delete(f"/api/v1/keys/{me['key_id']}")
    assert refused.status_code == 409 and refused.json()["type"].endswith("/last-admin-key")
    second = (await api.http.post("/api/v1/keys", json={"name": "a2", "role": "admin"})).json()
    assert (await api.http.delete(f"/api/v1/keys/{me['key_id']}")).status_code == 200
    assert (await api.http.get("/api/v1/keys")).status_code == 401  # own key now revoked
    assert (await api.client(second["key"]).get("/api/v1/keys")).status_code == 200


async def test_admins_manage_only_their_tenant(api: ApiUnderTest) -> None:
    other_admin = api.client(await api.key("boss", "admin", tenant="other"))
    mine = (await api.http.post("/api/v1/keys", json={"name": "mine", "role": "viewer"})).json()
    assert (await other_admin.get(f"/api/v1/keys/{mine['id']}")).status_code == 404
    assert (await other_admin.delete(f"/api/v1/keys/{mine['id']}")).status_code == 404
    names = [k["name"] for k in (await other_admin.get("/api/v1/keys")).json()["items"]]
    assert names == ["boss"]
    # The body cannot pick a tenant: unknown fields are refused.
    sneaky = await other_admin.post(
        "/api/v1/keys", json={"name": "x", "role": "admin", "tenant": "default"}
    )
    assert sneaky.status_code == 422
    assert (await api.http.get(f"/api/v1/keys/{mine['id']}")).json()["revoked_at"] is None
