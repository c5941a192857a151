"""New roles, deleted roles and withdrawn invitations through the Mini App API: who may, and the rules that hold
whoever asks (nobody grants what they lack, built-in roles stay, a role in use or still offered stays; an owner's
invitation is the owners' to withdraw)."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Role
from core.services import staff

from .test_staff_roles_api import auth, shop  # noqa: F401 (fixture)


async def test_roles_are_created_and_deleted_by_the_rules(shop):  # noqa: F811
    client = shop["client"]
    refused = await client.post("/api/roles", json={"name": "Sneaky", "permissions": ["view_traffic"]},
                                headers=auth(shop, "Ivan"))
    assert refused.status == 403
    # An administrator lacks delete_customer_data: they cannot put it into a new role.
    refused = await client.post("/api/roles", json={"name": "Cleaner", "permissions": ["delete_customer_data"]},
                                headers=auth(shop, "Adam"))
    assert refused.status == 400 and "delete_customer_data" in (await refused.json())["error"]
    refused = await client.post("/api/roles", json={"name": "X", "permissions": ["fly"]}, headers=auth(shop, "Adam"))
    assert refused.status == 400
    refused = await client.post("/api/roles", json={"name": "  "}, headers=auth(shop, "Adam"))
    assert refused.status == 400 and "name" in (await refused.json())["error"]
    made = await client.post("/api/roles", json={"name": "Head of traffic", "permissions": ["view_traffic"],
                                                 "hidden_fields": ["phone", "email"]}, headers=auth(shop, "Adam"))
    assert made.status == 201
    role = (await made.json())["role"]
    assert (role["code"], role["permissions"], role["hidden_fields"], role["people"]) == (
        "head_of_traffic", ["view_traffic"], ["phone", "email"], 0)
    again = await client.post("/api/roles", json={"name": "HEAD OF TRAFFIC"}, headers=auth(shop, "Adam"))
    assert again.status == 400 and "exists" in (await again.json())["error"]
    cyrillic = await (await client.post("/api/roles", json={"name": "Маркетолог"}, headers=auth(shop, "Adam"))).json()
    assert cyrillic["role"]["code"] == "role"

    # A waiting invitation with the role keeps it; withdrawn, the role can go.
    invite = await client.post("/api/staff/invitations", json={"role": "head_of_traffic", "days": 1},
                               headers=auth(shop, "Adam"))
    token = (await invite.json())["token"]
    kept = await client.post("/api/roles/head_of_traffic/delete", json={}, headers=auth(shop, "Adam"))
    assert kept.status == 400 and "invitation" in (await kept.json())["error"]
    listed = await (await client.get("/api/staff", headers=auth(shop, "Adam"))).json()
    [pending] = [i for i in listed["invitations"] if i["role"] == "head_of_traffic"]
    assert (await client.post(f"/api/staff/invitations/{pending['id']}/revoke", json={},
                              headers=auth(shop, "Ivan"))).status == 403
    withdrawn = await client.post(f"/api/staff/invitations/{pending['id']}/revoke", json={}, headers=auth(shop, "Adam"))
    assert withdrawn.status == 200 and (await withdrawn.json())["role"] == "head_of_traffic"
    twice = await client.post(f"/api/staff/invitations/{pending['id']}/revoke", json={}, headers=auth(shop, "Adam"))
    assert twice.status == 400 and "expired" in (await twice.json())["error"]
    gone = await client.post("/api/roles/head_of_traffic/delete", json={}, headers=auth(shop, "Adam"))
    assert gone.status == 200 and (await gone.json())["name"] == "Head of traffic"
    async with shop["db"].unit_of_work() as session:
        assert (await session.execute(select(Role).where(Role.code == "head_of_traffic"))).scalar_one_or_none() is None
        # The withdrawn link went with its role; it never lets anyone in.
        try:
            await staff.claim_invitation(session, token, telegram_user_id=1, first_name="X")
            raise AssertionError("a withdrawn invitation let someone in")
        except staff.StaffError:
            pass

    builtin = await client.post("/api/roles/manager/delete", json={}, headers=auth(shop, "Olga"))
    assert builtin.status == 400 and "built-in" in (await builtin.json())["error"]
    missing = await client.post("/api/roles/nope/delete", json={}, headers=auth(shop, "Olga"))
    assert missing.status in (400, 404)


async def test_only_owners_withdraw_an_owners_invitation(shop):  # noqa: F811
    client = shop["client"]
    made = await client.post("/api/staff/invitations", json={"role": "owner", "days": 1}, headers=auth(shop, "Olga"))
    assert made.status == 200
    listed = await (await client.get("/api/staff", headers=auth(shop, "Olga"))).json()
    [pending] = [i for i in listed["invitations"] if i["role"] == "owner"]
    refused = await client.post(f"/api/staff/invitations/{pending['id']}/revoke", json={}, headers=auth(shop, "Adam"))
    assert refused.status == 400 and "owner" in (await refused.json())["error"]
    assert (await client.post(f"/api/staff/invitations/{pending['id']}/revoke", json={},
                              headers=auth(shop, "Olga"))).status == 200
