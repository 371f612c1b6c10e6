"""Master failover with the durable registry, against real master and agent processes
(reliability matrix M1 and M6), driven by the raw v1 scheduler client.

* M1: one master with its registry on disk (`<work_dir>/registry.redb`), 3 agents, 21
  long-running tasks of a checkpointing framework. `kill -9` the master, restart it with the
  same work_dir after 3 s: the agents re-register, the framework re-subscribes with the same
  FrameworkID, implicit reconciliation answers TASK_RUNNING for every task, every task keeps
  its PID, no TASK_LOST/TASK_UNREACHABLE is ever sent, and the registry's agent set is the
  same before and after.
* M6: a master failover while one agent is stopped (SIGSTOP) for longer than
  `--agent_reregister_timeout`: the agent is listed under `recovered_slaves`, then marked
  unreachable in the registry; explicit reconciliation answers TASK_UNREACHABLE to a
  partition-aware framework and TASK_LOST to the other. After SIGCONT the agent is re-admitted
  and its tasks report TASK_RUNNING again, with the same PIDs (not killed).
"""

import json
import os
import signal
import time
import uuid

import pytest
import requests

from conftest import CorralProcess
from helpers import command_task, scaled, wait_until
from mesos_raw import JSON, SchedulerStream

pytestmark = pytest.mark.deadline(200)

AGENT_ENV = {"MESOS_STATUS_UPDATE_RETRY_INTERVAL": "1secs"}
PA = [{"type": "PARTITION_AWARE"}]
BAD_STATES = {"TASK_LOST", "TASK_UNREACHABLE", "TASK_KILLED", "TASK_FAILED", "TASK_GONE",
              "TASK_GONE_BY_OPERATOR", "TASK_DROPPED", "TASK_ERROR", "TASK_FINISHED"}


# ------------------------------------------------------------- helpers ----

class Resubscriber(SchedulerStream):
    """A SchedulerStream that subscribes with an existing FrameworkID (the call's
    `framework_id` must match `framework_info.id`, as in Mesos)."""

    def subscribe(self, timeout=30):
        fid = self.framework_info["id"]
        original = requests.post

        def post(url, data=None, **kw):
            body = json.loads(data)
            body["framework_id"] = fid
            return original(url, data=json.dumps(body), **kw)
        requests.post = post
        try:
            return super().subscribe(timeout)
        finally:
            requests.post = original


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def registry(cluster):
    """The registry as the master's registrar shows it: {admitted, unreachable, gone} ids."""
    reg = cluster.json("/registrar(1)/registry")
    return {
        "admitted": sorted(s["info"]["id"]["value"] for s in reg["slaves"]["slaves"]),
        "unreachable": sorted(s["id"]["value"] for s in reg["unreachable"]["slaves"]),
        "gone": sorted(s["id"]["value"] for s in reg["gone"]["slaves"]),
    }


def active_agents(cluster):
    return sorted(s["id"] for s in cluster.json("/slaves")["slaves"] if s.get("active"))


def restart_master(cluster, down_secs, name):
    """kill -9 the master, wait `down_secs`, start it again on the same port and work_dir."""
    old = cluster.master
    old.stopped_by_us = True
    os.killpg(old.pid, signal.SIGKILL)
    old.popen.wait(timeout=10)
    time.sleep(down_secs)
    env = dict(cluster.master_env)
    if cluster.heartbeat_secs is not None:
        env["CORRAL_HEARTBEAT_SECS"] = str(cluster.heartbeat_secs)
    new = CorralProcess(name, old.argv, cluster._env(env), cluster.log_dir, old.url)
    cluster.master = new
    cluster._wait_healthy(new)
    return new


def launch_sleepers(stream, tmp_path, per_agent, agents, prefix):
    """Launch `per_agent` sleepers on each of `agents` distinct agents, each writing its pid
    to a file. Returns {task_id: (agent_id, pid_file)} once all are TASK_RUNNING."""
    tasks = {}
    seen = set()
    while len(seen) < agents:
        offer = stream.next_offer(timeout=30)
        agent = offer["agent_id"]["value"]
        if agent in seen:
            stream.checked_call({"type": "DECLINE", "decline": {
                "offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0.1}}})
            continue
        seen.add(agent)
        infos = []
        for _ in range(per_agent):
            task_id = f"{prefix}-{uuid.uuid4()}"
            pid_file = tmp_path / f"{task_id}.pid"
            infos.append(command_task(agent, f"echo $$ > {pid_file}; exec sleep 600",
                                      name=prefix, task_id=task_id))
            tasks[task_id] = (agent, pid_file)
        stream.launch(offer, infos, refuse_seconds=3600)
    for task_id in tasks:
        stream.wait_state(task_id, "TASK_RUNNING", timeout=60)
    return tasks


def read_pids(tasks):
    def ready():
        return all(p.exists() and p.read_text().strip() for _, p in tasks.values())
    wait_until(ready, 30, "every task to write its pid file")
    return {t: int(p.read_text().strip()) for t, (_, p) in tasks.items()}


def reconcile(stream, tasks=None):
    """RECONCILE (implicit when `tasks` is None); returns the index of the next event."""
    start = len(stream.events)
    body = {"type": "RECONCILE", "reconcile": {"tasks": []}}
    if tasks:
        body["reconcile"]["tasks"] = [
            {"task_id": {"value": t}, "agent_id": {"value": a}} for t, a in tasks.items()]
    stream.checked_call(body)
    return start


def reconciled_states(stream, task_ids, start, timeout=30):
    """The latest reconciliation answer (after event index `start`) for each task."""
    def answers():
        out = {}
        with stream._cond:
            for e in stream.events[start:]:
                if e["type"] != "UPDATE":
                    continue
                s = e["update"]["status"]
                if s.get("reason") == "REASON_RECONCILIATION":
                    out[s["task_id"]["value"]] = s["state"]
        return out if set(task_ids) <= set(out) else None
    return wait_until(answers, timeout, f"reconciliation answers for {len(task_ids)} tasks")


def bad_updates(*streams):
    return [(e["update"]["status"]["task_id"]["value"], e["update"]["status"]["state"])
            for s in streams for e in s.events
            if e["type"] == "UPDATE" and e["update"]["status"]["state"] in BAD_STATES]


def framework_info(name, partition_aware):
    info = {"name": name, "failover_timeout": 600.0, "checkpoint": True}
    if partition_aware:
        info["capabilities"] = PA
    return info


def resubscribe(cluster, first):
    info = dict(first.framework_info)
    info["id"] = {"value": first.framework_id}
    return Resubscriber(cluster.master_url, framework_info=info).subscribe()


# --------------------------------------------------------------- tests ----

def test_m1_master_restart_keeps_every_task_running(cluster_factory, tmp_path):
    cluster = cluster_factory(agents=3, heartbeat_secs=1, agent_env=AGENT_ENV)
    before = registry(cluster)
    assert len(before["admitted"]) == 3, before

    first = SchedulerStream(cluster.master_url,
                            framework_info=framework_info("m1", True)).subscribe()
    tasks = launch_sleepers(first, tmp_path, per_agent=7, agents=3, prefix="m1")
    assert len(tasks) == 21
    pids = read_pids(tasks)

    first._closed = True  # the stream dies with the master: not a test failure
    restart_master(cluster, down_secs=3, name="master-restarted")

    wait_until(lambda: active_agents(cluster) == before["admitted"], 30,
               lambda: f"the 3 agents to re-register (active: {active_agents(cluster)})")
    state = cluster.json("/state")
    assert state["recovered_slaves"] == [], state["recovered_slaves"]

    second = resubscribe(cluster, first)
    try:
        assert second.framework_id == first.framework_id
        start = reconcile(second)
        states = reconciled_states(second, tasks, start)
        assert set(states.values()) == {"TASK_RUNNING"}, states
        for task_id, pid in pids.items():
            assert pid_alive(pid), f"task {task_id} (pid {pid}) died"
        assert read_pids(tasks) == pids
        assert bad_updates(first, second) == []
        after = registry(cluster)
        assert after == before, (before, after)
        # /state agrees: every task RUNNING on its agent.
        fw = [f for f in cluster.json("/state")["frameworks"] if f["id"] == first.framework_id]
        assert fw and len(fw[0]["tasks"]) == 21
        assert {t["state"] for t in fw[0]["tasks"]} == {"TASK_RUNNING"}
    finally:
        second.close()


@pytest.mark.deadline(240)
def test_m6_agent_stopped_across_failover_is_marked_unreachable_then_readmitted(
        cluster_factory, tmp_path):
    cluster = cluster_factory(agents=2, heartbeat_secs=1, agent_env=AGENT_ENV,
                              master_env={"MESOS_AGENT_REREGISTER_TIMEOUT": "4secs"})
    before = registry(cluster)
    pa = SchedulerStream(cluster.master_url,
                         framework_info=framework_info("m6-pa", True)).subscribe()
    pa_tasks = launch_sleepers(pa, tmp_path, per_agent=2, agents=2, prefix="pa")
    np = SchedulerStream(cluster.master_url,
                         framework_info=framework_info("m6-np", False)).subscribe()
    np_tasks = launch_sleepers(np, tmp_path, per_agent=2, agents=2, prefix="np")
    pids = read_pids({**pa_tasks, **np_tasks})

    stopped_proc = cluster.agents[1]
    stopped_id = wait_until(
        lambda: next((s["id"] for s in cluster.json("/slaves")["slaves"]
                      if s["port"] == int(stopped_proc.url.rsplit(":", 1)[1])), None),
        10, "the stopped agent's id")
    on_stopped = {t: a for t, (a, _) in {**pa_tasks, **np_tasks}.items() if a == stopped_id}
    assert len(on_stopped) == 4

    os.kill(stopped_proc.pid, signal.SIGSTOP)
    try:
        pa._closed = np._closed = True
        restart_master(cluster, down_secs=1, name="master-restarted")
        # Until the timeout the stopped agent is "recovered": known, not re-registered.
        recovered = [s["id"] for s in cluster.json("/state")["recovered_slaves"]]
        assert stopped_id in recovered, recovered
        assert stopped_id not in active_agents(cluster)
        wait_until(lambda: registry(cluster)["unreachable"] == [stopped_id], 30,
                   lambda: f"the stopped agent marked unreachable ({registry(cluster)})")
        assert cluster.json("/state")["recovered_slaves"] == []

        pa2, np2 = resubscribe(cluster, pa), resubscribe(cluster, np)
        for stream, own, expected in ((pa2, pa_tasks, "TASK_UNREACHABLE"),
                                      (np2, np_tasks, "TASK_LOST")):
            mine = {t: a for t, a in on_stopped.items() if t in own}
            start = reconcile(stream, mine)
            states = reconciled_states(stream, mine, start)
            assert set(states.values()) == {expected}, states
            # The tasks on the running agent are RUNNING all along.
            start = reconcile(stream)
            states = reconciled_states(
                stream, [t for t, (a, _) in own.items() if a != stopped_id], start)
            assert set(states.values()) == {"TASK_RUNNING"}, states
    finally:
        os.kill(stopped_proc.pid, signal.SIGCONT)

    wait_until(lambda: stopped_id in active_agents(cluster), 30,
               "the stopped agent to re-register after SIGCONT")
    reg = registry(cluster)
    assert reg["unreachable"] == [] and reg["admitted"] == before["admitted"], reg
    for stream, own in ((pa2, pa_tasks), (np2, np_tasks)):
        mine = {t: a for t, a in on_stopped.items() if t in own}
        start = reconcile(stream, mine)
        states = reconciled_states(stream, mine, start)
        assert set(states.values()) == {"TASK_RUNNING"}, states
    for task_id, pid in pids.items():
        assert pid_alive(pid), f"task {task_id} (pid {pid}) was killed"
    # Nothing was killed: no update other than reconciliation answers says otherwise.
    killed = [(t, s) for t, s in bad_updates(pa, np, pa2, np2)
              if s not in ("TASK_UNREACHABLE", "TASK_LOST")]
    assert killed == [], killed
    pa2.close()
    np2.close()


def test_mark_agent_gone_is_durable_and_the_agent_is_refused(cluster_factory, tmp_path):
    cluster = cluster_factory(agents=1, heartbeat_secs=1, agent_env=AGENT_ENV)
    fw = SchedulerStream(cluster.master_url,
                         framework_info=framework_info("gone", True)).subscribe()
    try:
        tasks = launch_sleepers(fw, tmp_path, per_agent=1, agents=1, prefix="gone")
        (task_id, (agent_id, _)), = tasks.items()
        # A gone agent is told to shut down and exits (see test_agent_gone.py).
        cluster.agents[0].stopped_by_us = True
        resp = requests.post(cluster.master_url + "/api/v1", data=json.dumps({
            "type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent_id}}}),
            headers={"Content-Type": JSON, "Accept": JSON}, timeout=scaled(10))
        assert resp.status_code == 200, (resp.status_code, resp.text)
        # Acknowledged only once durable: the registry already holds it as gone.
        assert registry(cluster)["gone"] == [agent_id]
        fw.wait_state(task_id, "TASK_GONE_BY_OPERATOR", timeout=10)
        # It survives a master failover, and the agent is never let back in.
        fw._closed = True
        restart_master(cluster, down_secs=0.5, name="master-restarted")
        assert registry(cluster)["gone"] == [agent_id]
        time.sleep(3)
        assert agent_id not in active_agents(cluster)
        assert cluster.json("/state")["recovered_slaves"] == []
    finally:
        fw.close(teardown=False)
