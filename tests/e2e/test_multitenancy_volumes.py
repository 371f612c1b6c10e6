"""Dynamic reservation and a persistent volume, driven through offers (ACCEPT with RESERVE,
CREATE, LAUNCH, DESTROY, UNRESERVE) by a raw v1 framework in role `db`.

The framework declares RESERVATION_REFINEMENT, so offers must carry reservations in the
post-1.4 form (`reservations: [{type, role, principal}]`, innermost last). A second framework
in role `other` declines every offer it gets for the whole life of the reservation; none of
them may hold the reserved resources or the volume.
"""

import os
import uuid

import pytest

from helpers import (TERMINAL_STATES, command_task, find_sandbox, get_json, offer_amounts,
                     offer_resources, persistence_id, reserved_role, reserved_scalar, role_amount,
                     roles_by_name, sandbox_diagnostics, wait_until)
from mesos_raw import OfferLoop, SchedulerStream, accept_call, launch_op, wait_offer

ROLE, PRINCIPAL = "db", "db-principal"
RESERVE = {"cpus": 0.5, "mem": 64.0, "disk": 100.0}
AGENT = {"cpus": 4.0, "mem": 4096.0, "disk": 10000.0}  # conftest's default agent resources
VOLUME_ID, CONTAINER_PATH = "v1", "data"
MARKER = f"persistent-{uuid.uuid4().hex[:12]}"
EPS = 1e-6


def _volume(offer):
    vols = [r for r in offer.get("resources", []) if persistence_id(r) == VOLUME_ID]
    return dict(vols[0]) if vols else None


def _holds_reserved(offer, names=("cpus", "mem", "disk")):
    got = offer_amounts(offer, reserved_to=ROLE)
    return all(got.get(n, 0.0) >= RESERVE[n] - EPS for n in names)


def _unreserved_whole_agent(offer):
    got = offer_amounts(offer)
    return (all(got.get(k, 0.0) == pytest.approx(v) for k, v in AGENT.items())
            and not any(reserved_role(r) or persistence_id(r) for r in offer["resources"]))


def _run_task(stream, offer, cmd, volume, agent_urls, extra_ops=()):
    """ACCEPT `offer` with extra_ops + LAUNCH of one task on the reserved cpus/mem and the
    volume; wait for its terminal state and assert TASK_FINISHED."""
    task_id = f"db-{uuid.uuid4()}"
    resources = offer_resources(offer, reserved_to=ROLE) + [volume]
    task = command_task(offer["agent_id"], cmd, name="db", task_id=task_id, resources=resources)
    stream.checked_call(accept_call(offer, [*extra_ops, launch_op([task])]))
    status = stream.wait_update(task_id, lambda s: s["state"] in TERMINAL_STATES, 60, "a terminal state")
    assert status["state"] == "TASK_FINISHED", (
        f"task `{cmd}` on the volume ended {status['state']}: {status.get('message')} "
        f"({status.get('reason')})\n{sandbox_diagnostics(agent_urls, task_id=task_id)}")
    return task_id


def _agent_files(root, name):
    return [os.path.join(d, name) for d, _, files in os.walk(root) if name in files]


@pytest.mark.deadline(180)
def test_reserve_create_volume_reuse_destroy_unreserve(cluster):
    url, agent_urls = cluster.master_url, cluster.agent_urls
    db = SchedulerStream(url, name="e2e-db", framework_info={
        "role": ROLE, "principal": PRINCIPAL,
        "capabilities": [{"type": "RESERVATION_REFINEMENT"}]}).subscribe()
    other = other_loop = None
    try:
        # 1. RESERVE cpus/mem/disk out of an unreserved offer.
        offer = wait_offer(db, lambda o: offer_amounts(o).get("disk", 0) >= RESERVE["disk"], 30,
                           "unreserved disk")
        reserve = [reserved_scalar(n, v, ROLE, PRINCIPAL, allocation_role=ROLE) for n, v in RESERVE.items()]
        db.checked_call(accept_call(offer, [{"type": "RESERVE", "reserve": {"resources": reserve}}]))

        other = SchedulerStream(url, name="e2e-other", framework_info={"role": "other"}).subscribe()
        other_loop = OfferLoop(other, refuse_seconds=0.5).start()  # declines everything

        # 2. The next offers carry the reservation, in the refinement format.
        offer = wait_offer(db, _holds_reserved, 30, f"resources reserved to {ROLE}: {RESERVE}")
        for res in offer["resources"]:
            if reserved_role(res) is not None:
                assert res.get("reservations"), f"reserved resource not in the refinement format: {res}"
                top = res["reservations"][-1]
                assert (top.get("type"), top.get("role"), top.get("principal")) == (
                    "DYNAMIC", ROLE, PRINCIPAL), f"wrong reservation: {res}"

        def roles_show_reservation():
            roles = roles_by_name(url)
            enough = role_amount(roles.get(ROLE), "cpus", "reserved") >= RESERVE["cpus"] - EPS
            return roles if enough else None
        roles = wait_until(roles_show_reservation, 10, f"/roles {ROLE} to show the reserved cpus")
        assert role_amount(roles[ROLE], "disk", "reserved") == pytest.approx(RESERVE["disk"]), roles[ROLE]

        # 3. CREATE the volume and, in the same ACCEPT, LAUNCH a task that writes to it.
        (disk,) = [r for r in offer["resources"]
                   if r["name"] == "disk" and reserved_role(r) == ROLE and not persistence_id(r)]
        volume = dict(disk, scalar={"value": RESERVE["disk"]}, disk={
            "persistence": {"id": VOLUME_ID, "principal": PRINCIPAL},
            "volume": {"container_path": CONTAINER_PATH, "mode": "RW"}})
        task_id = _run_task(db, offer, f"echo {MARKER} > {CONTAINER_PATH}/hello.txt", volume, agent_urls,
                            extra_ops=[{"type": "CREATE", "create": {"volumes": [volume]}}])
        # On the agent: container_path in the sandbox leads to a directory of the agent's own,
        # outside the sandbox, that keeps the file.
        agent_dir = (cluster.base_dir / "agent0").resolve()
        sandbox = find_sandbox(agent_urls[0], task_id=task_id)
        assert sandbox, f"no sandbox for {task_id} in the agent /state"
        volume_dir = os.path.realpath(os.path.join(sandbox, CONTAINER_PATH))
        in_sandbox = volume_dir.startswith(os.path.realpath(sandbox))
        assert volume_dir.startswith(f"{agent_dir}/") and not in_sandbox, (
            f"{sandbox}/{CONTAINER_PATH} -> {volume_dir}: not a directory of the agent outside the sandbox")
        with open(os.path.join(volume_dir, "hello.txt")) as fh:
            assert fh.read().strip() == MARKER

        # 4. The volume is offered again to db; a second task (new sandbox) reads the file.
        offer = wait_offer(db, lambda o: _volume(o) and _holds_reserved(o, ("cpus", "mem")), 30,
                           f"volume {VOLUME_ID} and the reserved cpus/mem")
        vol = _volume(offer)
        assert reserved_role(vol) == ROLE and vol["scalar"]["value"] == pytest.approx(RESERVE["disk"]), vol
        assert vol["disk"].get("volume", {}).get("container_path") == CONTAINER_PATH, vol
        assert vol["disk"]["persistence"].get("principal") == PRINCIPAL, vol
        try:
            _run_task(db, offer, f"grep -qx {MARKER} {CONTAINER_PATH}/hello.txt", vol, agent_urls)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nhello.txt files under the agent work dir: "
                                 f"{_agent_files(cluster.base_dir / 'agent0', 'hello.txt')}") from None

        # 5. DESTROY the volume and UNRESERVE everything in one ACCEPT.
        offer = wait_offer(db, lambda o: _volume(o) and _holds_reserved(o, ("cpus", "mem")), 30,
                           f"volume {VOLUME_ID} after the second task")
        vol = _volume(offer)
        plain = dict(vol)
        plain.pop("disk")
        unreserve = offer_resources(offer, reserved_to=ROLE) + [plain]
        db.checked_call(accept_call(offer, [{"type": "DESTROY", "destroy": {"volumes": [vol]}},
                                            {"type": "UNRESERVE", "unreserve": {"resources": unreserve}}]))
        wait_until(lambda: not os.path.exists(os.path.join(volume_dir, "hello.txt")), 10,
                   f"the agent to delete the destroyed volume's data in {volume_dir}")
        other_loop.stop()
        other.close()  # TEARDOWN: releases whatever it was offered
        seen_by_other = list(other_loop.offers)
        assert not other_loop.errors, other_loop.errors[:5]
        assert seen_by_other, "the framework in role `other` got no offer while the reservation existed"
        leaked = [o for o in seen_by_other
                  if any(reserved_role(r) is not None or persistence_id(r) for r in o["resources"])]
        assert not leaked, f"role `other` was offered reserved resources or a volume: {leaked[:3]}"

        # 6. Everything comes back unreserved: db is offered the whole agent again.
        wait_offer(db, _unreserved_whole_agent, 30, f"the whole agent {AGENT} unreserved")
        slave = get_json(url, "/slaves")["slaves"][0]
        assert not (slave.get("reserved_resources") or {}).get(ROLE), slave.get("reserved_resources")
        assert role_amount(roles_by_name(url).get(ROLE), "cpus", "reserved") == 0
    finally:
        if other_loop is not None:
            other_loop.stop()
        for stream in (other, db):
            if stream is not None:
                stream.close()
