"""Maintenance primitives (Mesos's maintenance schedule, machine modes and inverse offers)
against real master and agent processes.

One walk through a machine's maintenance, as an operator drains it:

* bad input (empty machine id, bad IP, negative start, unparsable legacy body, START/STOP of
  machines that are not scheduled) gets 400 with a message and changes nothing;
* UPDATE_MAINTENANCE_SCHEDULE for the agent's machine: GET_MAINTENANCE_SCHEDULE and
  `/maintenance/schedule` show it, the outstanding offer is rescinded and the framework's new
  offers carry `unavailability`;
* the framework, running a task there, gets an INVERSE_OFFERS for the agent and accepts it;
  GET_MAINTENANCE_STATUS and `/maintenance/status` show the machine DRAINING with the ACCEPT;
* START_MAINTENANCE: the task is TASK_LOST (REASON_AGENT_REMOVED, SOURCE_MASTER), the agent is
  told to shut down and exits with code 3, the machine is DOWN;
* a `kill -9` master restarted on the same work_dir keeps the schedule and the DOWN mode;
* the agent restarted while its machine is DOWN is refused and exits again;
* `POST /machine/up` (STOP): the machine leaves the schedule and the agent registers again.
"""

import json
import os
import signal
import time
import uuid

import pytest
import requests

from conftest import CorralProcess
from helpers import command_task, operator_call, operator_ok, scaled, wait_until
from mesos_raw import SchedulerStream

pytestmark = pytest.mark.deadline(150)

EXIT_SHUT_DOWN_BY_MASTER = 3  # crates/cli/src/daemons.rs
HOUR_NS = 3600 * 1_000_000_000


def window(machine, start_ns):
    return {"machine_ids": [machine],
            "unavailability": {"start": {"nanoseconds": start_ns},
                               "duration": {"nanoseconds": HOUR_NS}}}


def update_schedule(url, windows):
    return operator_call(url, "UPDATE_MAINTENANCE_SCHEDULE", {"schedule": {"windows": windows}})


def get_schedule(url):
    return operator_ok(url, "GET_MAINTENANCE_SCHEDULE")["get_maintenance_schedule"]["schedule"]


def get_status(url):
    return operator_ok(url, "GET_MAINTENANCE_STATUS")["get_maintenance_status"]["status"]


def log_text(proc):
    return "".join(p.read_text(errors="replace")
                   for p in (proc.stdout_path, proc.stderr_path) if p.exists())


def wait_exit(proc, timeout):
    try:
        return proc.popen.wait(timeout=scaled(timeout))
    except Exception as exc:  # noqa: BLE001 - reported with the log
        raise AssertionError(f"corral {proc.name} still running after {timeout}s\n"
                             f"{proc.tail()}") from exc


def restart(cluster, old, name, env):
    proc = CorralProcess(name, old.argv, cluster._env(env), cluster.log_dir, old.url)
    return proc


def assert_bad(resp, needle):
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert needle in resp.text, resp.text


def test_a_machine_drains_goes_down_survives_failover_and_comes_back(cluster_factory):
    cluster = cluster_factory(agents=1, heartbeat_secs=1)
    url = cluster.master_url
    agent = cluster.agents[0]
    (slave,) = cluster.json("/slaves")["slaves"]
    agent_id = slave["id"]
    machine = {"hostname": slave["hostname"], "ip": "127.0.0.1"}

    fw = SchedulerStream(url, framework_info={"name": "maintenance", "failover_timeout": 600.0})
    fw.subscribe()
    try:
        offer = fw.next_offer(timeout=30)
        assert "unavailability" not in offer, offer
        task_id = f"drain-{uuid.uuid4()}"
        fw.launch(offer, [command_task(agent_id, "exec sleep 600", task_id=task_id)],
                  refuse_seconds=0.5)
        fw.wait_state(task_id, "TASK_RUNNING", timeout=60)

        # -- bad input: 400, nothing changes -------------------------------------------
        start = int(time.time() * 1e9) + HOUR_NS
        assert_bad(update_schedule(url, [window({}, start)]), "'hostname' or 'ip'")
        assert_bad(update_schedule(url, [window({"ip": "300.1.2.3"}, start)]), "IP")
        assert_bad(update_schedule(url, [window(machine, -5)]), "negative")
        assert_bad(update_schedule(url, [window(machine, start), window(machine, start)]),
                   "more than once")
        assert_bad(operator_call(url, "START_MAINTENANCE", {"machines": [machine]}),
                   "not part of a maintenance schedule")
        assert_bad(operator_call(url, "STOP_MAINTENANCE", {"machines": [machine]}),
                   "not part of a maintenance schedule")
        resp = requests.post(url + "/maintenance/schedule", data="{not json", timeout=10)
        assert resp.status_code == 400, (resp.status_code, resp.text)
        resp = requests.post(url + "/machine/down", data="[]", timeout=10)
        assert_bad(resp, "List of machines is empty")
        assert get_schedule(url) == {}, "nothing scheduled"

        # -- schedule: offers carry unavailability, inverse offer accepted -------------
        resp = update_schedule(url, [window(machine, start)])
        assert resp.status_code == 200, (resp.status_code, resp.text)
        schedule = get_schedule(url)
        assert schedule["windows"][0]["machine_ids"] == [machine], schedule
        assert schedule["windows"][0]["unavailability"]["start"]["nanoseconds"] == start
        assert requests.get(url + "/maintenance/schedule", timeout=10).json() == schedule

        offered = fw.wait_event(
            lambda e: e["type"] == "OFFERS"
            and any("unavailability" in o for o in e["offers"]["offers"]),
            20, "an offer with unavailability")
        unavailable = [o for o in offered["offers"]["offers"] if "unavailability" in o][0]
        assert unavailable["unavailability"]["start"]["nanoseconds"] == start, unavailable

        inverse = fw.wait_event(lambda e: e["type"] == "INVERSE_OFFERS", 20, "INVERSE_OFFERS")
        (io,) = inverse["inverse_offers"]["inverse_offers"]
        assert io["agent_id"]["value"] == agent_id, io
        assert io["framework_id"]["value"] == fw.framework_id, io
        assert io["unavailability"]["start"]["nanoseconds"] == start, io
        fw.checked_call({"type": "ACCEPT_INVERSE_OFFERS", "accept_inverse_offers": {
            "inverse_offer_ids": [io["id"]], "filters": {"refuse_seconds": 3600}}})

        status = get_status(url)
        (draining,) = status["draining_machines"]
        assert draining["id"] == machine, status
        (answer,) = draining["statuses"]
        assert answer["status"] == "ACCEPT", answer
        assert answer["framework_id"]["value"] == fw.framework_id, answer
        assert requests.get(url + "/maintenance/status", timeout=10).json() == status

        # -- START: agent removed, task lost, machine DOWN ------------------------------
        agent.stopped_by_us = True  # it exits by itself: that is the point
        operator_ok(url, "START_MAINTENANCE", {"machines": [machine]})
        lost = fw.wait_state(task_id, "TASK_LOST", timeout=15)
        assert lost["reason"] == "REASON_AGENT_REMOVED", lost
        assert lost["source"] == "SOURCE_MASTER", lost
        assert "Machine DOWN" in lost.get("message", ""), lost
        fw.wait_event(lambda e: e["type"] == "FAILURE"
                      and e["failure"].get("agent_id", {}).get("value") == agent_id,
                      10, "FAILURE for the agent")
        code = wait_exit(agent, 20)
        assert code == EXIT_SHUT_DOWN_BY_MASTER, (code, agent.tail())
        assert not [s for s in cluster.json("/slaves")["slaves"] if s.get("active")]
        status = get_status(url)
        assert status.get("down_machines") == [machine], status
        assert not status.get("draining_machines"), status
        # A DOWN machine cannot leave the schedule.
        assert_bad(update_schedule(url, []), "cannot be removed")
    finally:
        fw._closed = True  # its stream dies with the master below
        fw.close(teardown=False)

    # -- master failover keeps the schedule and the modes ---------------------------
    old = cluster.master
    old.stopped_by_us = True
    os.killpg(old.pid, signal.SIGKILL)
    old.popen.wait(timeout=10)
    env = dict(cluster.master_env, CORRAL_HEARTBEAT_SECS="1")
    cluster.master = restart(cluster, old, "master-restarted", env)
    cluster._wait_healthy(cluster.master)
    assert get_schedule(url) == schedule
    assert get_status(url).get("down_machines") == [machine]
    reg = cluster.json("/registrar(1)/registry")
    assert reg["machines"]["machines"] == [{"info": {"id": machine, "mode": "DOWN"}}], reg
    assert reg["schedules"] == [schedule], reg
    assert agent_id not in [s["info"]["id"]["value"] for s in reg["slaves"]["slaves"]], reg

    # -- the agent is refused while its machine is DOWN -----------------------------
    again = restart(cluster, agent, "agent0-refused", cluster.agent_env)
    again.stopped_by_us = True
    cluster.agents.append(again)
    code = wait_exit(again, 20)
    assert code == EXIT_SHUT_DOWN_BY_MASTER, (code, again.tail())
    assert "DOWN for maintenance" in log_text(again), again.tail()

    # -- STOP (legacy /machine/up): UP again, out of the schedule, agent back --------
    resp = requests.post(url + "/machine/up", data=json.dumps([machine]), timeout=10)
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert get_schedule(url) == {}
    assert get_status(url) == {}
    assert_bad(operator_call(url, "STOP_MAINTENANCE", {"machines": [machine]}),
               "not part of a maintenance schedule")
    back = restart(cluster, agent, "agent0-back", cluster.agent_env)
    cluster.agents.append(back)
    wait_until(lambda: [s for s in cluster.json("/slaves")["slaves"] if s.get("active")],
               30, "the agent to register again")
    assert back.alive(), back.tail()
