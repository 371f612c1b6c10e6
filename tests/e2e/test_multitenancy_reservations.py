"""Dynamic reservations made by the operator: RESERVE_RESOURCES / UNRESERVE_RESOURCES on
POST /api/v1 (202 when applied, 409 when the agent lacks the resources, 400 for an unknown
agent), as seen in `/roles`, `/slaves` and in the offers of frameworks in and out of the role.
"""

import pytest

from helpers import (get_json, offer_amounts, operator_call, reserved_role,
                     reserved_scalar, role_amount, roles_by_name, wait_until)
from mesos_raw import SchedulerStream, decline_call, wait_offer

ROLE, PRINCIPAL = "ops", "ops-admin"
AGENT = {"cpus": 4.0, "mem": 4096.0, "disk": 10000.0}  # conftest's default agent resources
RESERVED = {"cpus": 1.0, "mem": 128.0}
EPS = 1e-6


def _reserve_payload(agent_id, amounts, role=ROLE):
    return {"agent_id": {"value": agent_id},
            "resources": [reserved_scalar(n, v, role, PRINCIPAL) for n, v in amounts.items()]}


def _call(url, call_type, agent_id, amounts, expect):
    resp = operator_call(url, call_type, _reserve_payload(agent_id, amounts))
    assert resp.status_code == expect, (
        f"{call_type} {amounts} -> {resp.status_code} (expected {expect}): {resp.text[:300]}")


def _reserve(url, agent_id, amounts, expect):
    _call(url, "RESERVE_RESOURCES", agent_id, amounts, expect)


def _unreserve(url, agent_id, amounts, expect):
    _call(url, "UNRESERVE_RESOURCES", agent_id, amounts, expect)


def _reserved_view(url):
    """(cpus, mem) reserved to ROLE per /roles, and the agent's reserved_resources[ROLE] per /slaves."""
    role = roles_by_name(url).get(ROLE)
    slave = get_json(url, "/slaves")["slaves"][0]
    by_slave = (slave.get("reserved_resources") or {}).get(ROLE) or {}
    return ((role_amount(role, "cpus", "reserved"), role_amount(role, "mem", "reserved")),
            (float(by_slave.get("cpus", 0)), float(by_slave.get("mem", 0))))


def test_operator_reserve_and_unreserve(cluster):
    url = cluster.master_url
    (agent_id,) = cluster.agent_ids()
    want = (RESERVED["cpus"], RESERVED["mem"])

    _reserve(url, agent_id, RESERVED, 202)
    wait_until(lambda: _reserved_view(url) == (want, want), 10,
               lambda: f"/roles and /slaves to show {RESERVED} reserved to {ROLE}: {_reserved_view(url)}")
    slave = get_json(url, "/slaves")["slaves"][0]
    unreserved = slave.get("unreserved_resources") or {}
    assert float(unreserved.get("cpus", -1)) == pytest.approx(AGENT["cpus"] - RESERVED["cpus"]), slave
    assert float(slave["resources"]["cpus"]) == pytest.approx(AGENT["cpus"]), "the total must not change"

    # Only 3 unreserved cpus are left: asking for more is a conflict and changes nothing.
    _reserve(url, agent_id, {"cpus": AGENT["cpus"]}, 409)
    _reserve(url, agent_id, {"cpus": 100.0}, 409)
    # An agent the master does not know is a bad request.
    resp = operator_call(url, "RESERVE_RESOURCES", _reserve_payload(f"{agent_id}-nope", {"cpus": 1.0}))
    assert resp.status_code == 400, f"unknown agent -> {resp.status_code}: {resp.text[:300]}"
    resp = operator_call(url, "UNRESERVE_RESOURCES", _reserve_payload(f"{agent_id}-nope", RESERVED))
    assert resp.status_code == 400, f"unknown agent -> {resp.status_code}: {resp.text[:300]}"
    assert _reserved_view(url) == (want, want), "a refused call changed the reservation"

    # Unreserving more than is reserved is a conflict too; the exact amount succeeds.
    _unreserve(url, agent_id, {"cpus": 2.0}, 409)
    _unreserve(url, agent_id, RESERVED, 202)
    wait_until(lambda: _reserved_view(url) == ((0.0, 0.0), (0.0, 0.0)), 10,
               lambda: f"the reservation to disappear: {_reserved_view(url)}")
    slave = get_json(url, "/slaves")["slaves"][0]
    unreserved = slave.get("unreserved_resources") or {}
    assert float(unreserved.get("cpus", -1)) == pytest.approx(AGENT["cpus"]), slave


@pytest.mark.deadline(120)
def test_operator_reservation_is_offered_only_to_its_role(cluster):
    """A reservation made while a framework holds an offer of the whole agent: the master
    rescinds what it needs (Mesos does, then answers 202); afterwards the reserved resources
    go only to the role, and come back to everyone after UNRESERVE."""
    url = cluster.master_url
    (agent_id,) = cluster.agent_ids()
    star = SchedulerStream(url, name="e2e-star").subscribe()
    mine = None
    try:
        held = star.next_offer()  # held, not answered
        assert offer_amounts(held).get("cpus") == pytest.approx(AGENT["cpus"]), held
        _reserve(url, agent_id, RESERVED, 202)
        star.wait_event(lambda e: e["type"] == "RESCIND"
                        and e["rescind"]["offer_id"]["value"] == held["id"]["value"],
                        10, "RESCIND of the offer the reservation needed")

        # The role `*` framework never sees the reserved cpus again.
        offer_for_star = star.next_offer(timeout=30)
        assert offer_amounts(offer_for_star).get("cpus") == pytest.approx(
            AGENT["cpus"] - RESERVED["cpus"]), offer_for_star
        assert not [r for r in offer_for_star["resources"] if reserved_role(r)], (
            f"reserved resources offered to role *: {offer_for_star}")

        mine = SchedulerStream(url, name="e2e-ops", framework_info={
            "role": ROLE, "capabilities": [{"type": "RESERVATION_REFINEMENT"}]}).subscribe()
        offer = wait_offer(
            mine, lambda o: offer_amounts(o, reserved_to=ROLE).get("cpus", 0) >= RESERVED["cpus"] - EPS,
            30, f"the cpus reserved to {ROLE}")
        (cpus,) = [r for r in offer["resources"] if r["name"] == "cpus" and reserved_role(r) == ROLE]
        top = cpus["reservations"][-1]
        assert (top.get("type"), top.get("role"), top.get("principal")) == ("DYNAMIC", ROLE, PRINCIPAL), cpus
        mine.close()  # TEARDOWN releases its offers
        mine = None

        # After UNRESERVE the cpus are everyone's again.
        star.checked_call(decline_call(offer_for_star, 0.0))
        _unreserve(url, agent_id, RESERVED, 202)
        star.revive()
        wait_offer(star, lambda o: offer_amounts(o).get("cpus", 0) >= AGENT["cpus"] - EPS, 30,
                   "all cpus offered to role * after UNRESERVE", refuse_seconds=0.2)
    finally:
        for stream in (mine, star):
            if stream is not None:
                stream.close()
