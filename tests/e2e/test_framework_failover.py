"""Framework failover and reconciliation against real master and agent processes
(reliability matrix F1, F2, F4), driven by the raw v1 scheduler client.

* F1: the scheduler's connection dies with status updates unacknowledged; a new
  instance re-subscribes with the same FrameworkID within failover_timeout: the
  task keeps running and the unacknowledged update comes again with the SAME uuid;
  calls with the old Mesos-Stream-Id are refused (403 while disconnected, 400 after
  the re-subscription); a re-subscription with another principal is refused and
  changes nothing.
* F2: the scheduler stays away longer than failover_timeout: the framework is
  removed, its task ends TASK_KILLED with REASON_FRAMEWORK_REMOVED, the task
  process is gone, its resources are free, and SUBSCRIBE with its id is refused.
* F4: explicit reconciliation of unknown tasks on the registered agent, on an
  unknown agent and without an agent, for partition-aware and other frameworks.
"""

import json
import os
import signal
import time
import uuid

import pytest
import requests

from conftest import CorralProcess
from helpers import command_task, operator_ok, scaled, wait_until
from mesos_raw import JSON, SchedulerStream

pytestmark = pytest.mark.deadline(180)

AGENT_ENV = {"MESOS_STATUS_UPDATE_RETRY_INTERVAL": "1secs"}
PA = [{"type": "PARTITION_AWARE"}]


def start(cluster_factory):
    # Heartbeats every second make the master notice a dead scheduler connection at once.
    return cluster_factory(agents=1, heartbeat_secs=1, agent_env=AGENT_ENV)


def first_event(master_url, framework_info, timeout=15):
    """SUBSCRIBE and return the first event (SUBSCRIBED or ERROR); the stream is closed."""
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}}
    if "id" in framework_info:
        body["framework_id"] = framework_info["id"]
    resp = requests.post(master_url + "/api/v1/scheduler", data=json.dumps(body),
                         headers={"Content-Type": JSON, "Accept": JSON}, stream=True,
                         timeout=(scaled(10), scaled(timeout)))
    try:
        assert resp.status_code == 200, f"SUBSCRIBE -> {resp.status_code}: {resp.text[:300]}"
        buf = b""
        for chunk in resp.iter_content(chunk_size=None):
            buf += chunk
            head, sep, rest = buf.partition(b"\n")
            if sep and len(rest) >= int(head):
                return json.loads(rest[:int(head)])
        raise AssertionError(f"stream ended without an event: {buf[:200]!r}")
    finally:
        resp.close()


class Resubscriber(SchedulerStream):
    """A SchedulerStream that re-subscribes with an existing FrameworkID (the call's
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
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def launch_sleeper(stream, tmp_path, name):
    """Launch `sleep` writing its pid to a file; return (task_id, pid_file)."""
    offer = stream.next_offer()
    task_id = f"{name}-{uuid.uuid4()}"
    pid_file = tmp_path / f"{task_id}.pid"
    stream.launch(offer, [command_task(offer["agent_id"], f"echo $$ > {pid_file}; exec sleep 300",
                                       name=name, task_id=task_id)])
    return task_id, pid_file


def read_pid(pid_file, timeout=30):
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout,
               f"the task to write {pid_file}")
    return int(pid_file.read_text().strip())


def master_framework(cluster, framework_id):
    state = cluster.json("/state")
    for key in ("frameworks", "completed_frameworks"):
        for fw in state.get(key, []):
            if fw["id"] == framework_id:
                return key, fw
    return None, None


def test_failover_redelivers_unacknowledged_updates_with_the_same_uuid(cluster_factory, tmp_path):
    cluster = start(cluster_factory)
    info = {"name": "f1", "failover_timeout": 120.0, "principal": "alice"}
    first = SchedulerStream(cluster.master_url, auto_ack=False, framework_info=info).subscribe()
    fw = first.framework_id
    old_stream = first.stream_id
    task_id, pid_file = launch_sleeper(first, tmp_path, "f1")
    head = first.wait_update(task_id, lambda s: bool(s.get("uuid")), 60, "an update with a uuid")
    pid = read_pid(pid_file)

    # The scheduler dies without acknowledging anything.
    first.close(teardown=False)
    wait_until(lambda: (master_framework(cluster, fw)[1] or {}).get("connected") is False, 20,
               "the master to see the framework disconnected")
    # While disconnected, calls with the old stream id are refused (403) and change nothing.
    kill = {"type": "KILL", "kill": {"task_id": {"value": task_id}}}
    resp = first.call(kill)
    assert resp.status_code == 403, (resp.status_code, resp.text)

    # A re-subscription with another principal is refused and changes nothing.
    for principal in ("mallory", None):
        bad = {"user": info.get("user", first.framework_info["user"]), "name": "f1",
               "id": {"value": fw}, "failover_timeout": 120.0}
        if principal:
            bad["principal"] = principal
        event = first_event(cluster.master_url, bad)
        assert event["type"] == "ERROR", event
        assert "principal" in event["error"]["message"], event
    where, record = master_framework(cluster, fw)
    assert where == "frameworks" and record["principal"] == "alice", record
    assert record["connected"] is False, record

    # The new instance: same id, same principal.
    second = Resubscriber(cluster.master_url, auto_ack=False,
                             framework_info=dict(info, id={"value": fw})).subscribe()
    try:
        assert second.framework_id == fw
        again = second.wait_update(task_id, lambda s: s.get("uuid") == head["uuid"], 30,
                                   f"the unacknowledged {head['state']} again with uuid {head['uuid']}")
        assert again["state"] == head["state"]
        # The old instance's calls are refused now too (stream id mismatch -> 400).
        resp = first.call(kill, stream_id=old_stream)
        assert resp.status_code == 400, (resp.status_code, resp.text)
        assert pid_alive(pid), "the old stream could not kill the task"
        # Acknowledge; the task's later updates flow on the new stream.
        second.checked_call({"type": "ACKNOWLEDGE", "acknowledge": {
            "agent_id": again["agent_id"], "task_id": again["task_id"], "uuid": again["uuid"]}})
        running = second.wait_update(task_id, lambda s: s["state"] == "TASK_RUNNING"
                                     and s.get("uuid") and s["uuid"] != head["uuid"]
                                     or (head["state"] == "TASK_RUNNING" and s["uuid"] == head["uuid"]),
                                     30, "TASK_RUNNING")
        assert running["state"] == "TASK_RUNNING"
        assert pid_alive(pid), "the task kept running through the failover"
        where, record = master_framework(cluster, fw)
        assert where == "frameworks" and len(record["tasks"]) == 1, record
    finally:
        second.close()


def test_framework_removed_after_failover_timeout(cluster_factory, tmp_path):
    cluster = start(cluster_factory)
    info = {"name": "f2", "failover_timeout": 3.0}
    stream = SchedulerStream(cluster.master_url, framework_info=info).subscribe()
    fw = stream.framework_id
    task_id, pid_file = launch_sleeper(stream, tmp_path, "f2")
    stream.wait_state(task_id, "TASK_RUNNING")
    pid = read_pid(pid_file)
    stream.close(teardown=False)
    gone_at = time.monotonic()

    wait_until(lambda: master_framework(cluster, fw)[0] == "completed_frameworks", 20,
               "the framework to be removed after its failover_timeout")
    elapsed = time.monotonic() - gone_at
    assert elapsed >= 2.5, f"removed after {elapsed:.1f}s, before failover_timeout (3 s)"
    _, record = master_framework(cluster, fw)
    tasks = record.get("completed_tasks", []) + record.get("tasks", [])
    [task] = [t for t in tasks if t["id"] == task_id]
    assert task["state"] == "TASK_KILLED", task
    # /state shows statuses without reasons (as Mesos); the operator API has them.
    tasks = operator_ok(cluster.master_url, "GET_TASKS")["get_tasks"]
    [task] = [t for t in tasks.get("completed_tasks", []) if t["task_id"]["value"] == task_id]
    assert task["state"] == "TASK_KILLED", task
    last = task["statuses"][-1]
    assert last["reason"] == "REASON_FRAMEWORK_REMOVED", last
    assert last["source"] == "SOURCE_MASTER", last
    wait_until(lambda: not pid_alive(pid), 20, f"the task process {pid} to be killed")

    def freed():
        slave = cluster.json("/state")["slaves"][0]
        return slave["used_resources"].get("cpus", 0) == 0
    wait_until(freed, 10, "the agent's resources to be free")

    event = first_event(cluster.master_url, dict(info, id={"value": fw}, user=stream.framework_info["user"]))
    assert event["type"] == "ERROR", event
    assert event["error"]["message"] == "Framework has been removed", event


def reconcile(stream, tasks, expect):
    """RECONCILE `tasks` [(task_id, agent_id or None)]; wait for one answer per task."""
    start = len(stream.events)
    stream.checked_call({"type": "RECONCILE", "reconcile": {"tasks": [
        dict({"task_id": {"value": t}}, **({"agent_id": {"value": a}} if a else {}))
        for t, a in tasks]}})
    answers = {}
    for task_id, _ in tasks:
        ev = stream.wait_event(lambda e: e["type"] == "UPDATE"
                               and e["update"]["status"]["task_id"]["value"] == task_id,
                               15, f"a reconciliation answer for {task_id}", start=start)
        status = ev["update"]["status"]
        assert status["reason"] == "REASON_RECONCILIATION", status
        assert status["source"] == "SOURCE_MASTER", status
        assert "uuid" not in status, status
        answers[task_id] = status["state"]
    assert answers == expect, answers


def test_explicit_reconciliation_of_unknown_tasks(cluster_factory, tmp_path):
    cluster = start(cluster_factory)
    agent_id = cluster.agent_ids()[0]
    pa = SchedulerStream(cluster.master_url, name="f4-pa",
                         framework_info={"capabilities": PA}).subscribe()
    legacy = SchedulerStream(cluster.master_url, name="f4-legacy").subscribe()
    try:
        task_id, _ = launch_sleeper(pa, tmp_path, "f4")
        pa.wait_state(task_id, "TASK_RUNNING")
        asks = [("ghost-on-agent", agent_id), ("ghost-on-unknown-agent", "no-such-agent-S9"),
                ("ghost-anywhere", None)]
        reconcile(pa, asks + [(task_id, None)], {
            "ghost-on-agent": "TASK_GONE", "ghost-on-unknown-agent": "TASK_UNKNOWN",
            "ghost-anywhere": "TASK_UNKNOWN", task_id: "TASK_RUNNING"})
        reconcile(legacy, asks, {t: "TASK_LOST" for t, _ in asks})
        # Implicit: every task the master knows for the framework.
        start_at = len(pa.events)
        pa.checked_call({"type": "RECONCILE", "reconcile": {"tasks": []}})
        ev = pa.wait_event(lambda e: e["type"] == "UPDATE", 15, "implicit answer", start=start_at)
        assert ev["update"]["status"]["task_id"]["value"] == task_id
        assert ev["update"]["status"]["state"] == "TASK_RUNNING"
    finally:
        pa.close()
        legacy.close()


def restart_master(cluster, pause):
    """kill -9 the master, wait `pause` seconds, start it again on the same port and work dir."""
    old = cluster.master
    old.stopped_by_us = True
    os.killpg(old.pid, signal.SIGKILL)
    old.popen.wait(10)
    time.sleep(pause)
    cluster.master = CorralProcess("master-restarted", old.argv, cluster._env(
        {"CORRAL_HEARTBEAT_SECS": "1"}), cluster.log_dir, old.url)
    cluster._wait_healthy(cluster.master)


def test_failover_deadline_survives_a_master_restart(cluster_factory, tmp_path):
    """F3 (our fix of MESOS-4659): the framework disconnects, the master is killed and
    restarted before failover_timeout, the framework never returns: it is removed at about
    the ORIGINAL deadline, and its task is killed once its agent has re-registered."""
    cluster = start(cluster_factory)
    timeout = 12.0
    stream = SchedulerStream(cluster.master_url,
                             framework_info={"name": "f3", "failover_timeout": timeout}).subscribe()
    fw = stream.framework_id
    task_id, pid_file = launch_sleeper(stream, tmp_path, "f3")
    stream.wait_state(task_id, "TASK_RUNNING")
    pid = read_pid(pid_file)
    stream.close(teardown=False)
    disconnected = time.monotonic()
    wait_until(lambda: (master_framework(cluster, fw)[1] or {}).get("connected") is False, 20,
               "the master to see the framework disconnected")

    # A fresh timeout from the restart would end at >= disconnect + 5 + 12 s.
    restart_master(cluster, pause=4.0)
    wait_until(lambda: cluster.agent_ids() and cluster._all_agents_active(), 30,
               "the agent to re-register with the restarted master")
    where, record = master_framework(cluster, fw)
    assert where == "frameworks" and record["connected"] is False, (where, record)
    assert pid_alive(pid)

    wait_until(lambda: master_framework(cluster, fw)[0] == "completed_frameworks", 30,
               "the recovered framework to be removed")
    removed_after = time.monotonic() - disconnected
    wait_until(lambda: not pid_alive(pid), 20, f"the task process {pid} to be killed")
    print(f"[f3] removed {removed_after:.1f}s after the disconnection (failover_timeout {timeout}s)")
    assert timeout - 1.5 <= removed_after <= timeout + 3.5, (
        f"removed {removed_after:.1f}s after the disconnection; the original deadline was "
        f"~{timeout}s (a deadline restarted at the master restart would be >= {timeout + 5}s)")
    event = first_event(cluster.master_url, dict(stream.framework_info, id={"value": fw}))
    assert event["type"] == "ERROR" and event["error"]["message"] == "Framework has been removed", event


def collect_answers(stream, start, task_ids, wait):
    """Reconciliation answers for `task_ids` among events from `start`, waiting `wait` s."""
    time.sleep(scaled(wait))
    with stream._cond:
        return {e["update"]["status"]["task_id"]["value"]: e["update"]["status"]["state"]
                for e in stream.events[start:] if e["type"] == "UPDATE"
                and e["update"]["status"].get("reason") == "REASON_RECONCILIATION"
                and e["update"]["status"]["task_id"]["value"] in task_ids}


def test_reconciliation_waits_for_a_recovering_agent(cluster_factory, tmp_path):
    """F4 after a master failover: tasks on an agent the registry knows but that has not
    re-registered yet get no answer; once it re-registers, its task is RUNNING and an
    unknown task on it is TASK_GONE."""
    cluster = start(cluster_factory)
    agent_id = cluster.agent_ids()[0]
    info = {"name": "f4-recovery", "failover_timeout": 120.0, "capabilities": PA}
    first = SchedulerStream(cluster.master_url, framework_info=info).subscribe()
    fw = first.framework_id
    task_id, pid_file = launch_sleeper(first, tmp_path, "f4r")
    first.wait_state(task_id, "TASK_RUNNING")
    pid = read_pid(pid_file)
    first.close(teardown=False)

    agent = cluster.agents[0]
    os.kill(agent.pid, signal.SIGSTOP)  # the agent cannot re-register for now
    try:
        restart_master(cluster, pause=0.5)
        second = Resubscriber(cluster.master_url, framework_info=dict(info, id={"value": fw}))
        second.subscribe()
        asks = [(task_id, agent_id), ("ghost", agent_id)]
        body = {"type": "RECONCILE", "reconcile": {"tasks": [
            {"task_id": {"value": t}, "agent_id": {"value": a}} for t, a in asks]}}
        start_at = len(second.events)
        second.checked_call(body)
        assert collect_answers(second, start_at, {task_id, "ghost"}, 3.0) == {}, (
            "no answer while the agent has not re-registered")
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    try:
        wait_until(lambda: agent_id in cluster.agent_ids() and cluster._all_agents_active(), 30,
                   "the agent to re-register")
        start_at = len(second.events)
        second.checked_call(body)
        wait_until(lambda: len(collect_answers(second, start_at, {task_id, "ghost"}, 0)) == 2, 15,
                   "both reconciliation answers")
        assert collect_answers(second, start_at, {task_id, "ghost"}, 0) == {
            task_id: "TASK_RUNNING", "ghost": "TASK_GONE"}
        assert pid_alive(pid)
    finally:
        second.close()
