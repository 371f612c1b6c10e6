"""Agent recovery against real processes (reliability matrix A1, A3, A4, A5).

A checkpointing framework (`checkpoint: true`) runs command tasks; the agent is
killed with SIGKILL and started again with the same work_dir and port:

* A1: several kill -9 / restart rounds in a row: every task process (executor and
  `sleep`) is alive with the same pid and start time after each round, the agent
  re-registers with the same id, the master still reports the tasks RUNNING, and
  the framework sees no new status update (only resends of unacknowledged ones).
* A3: kill -9 during a burst of status updates (quick tasks): after the restart
  every task ends with exactly one terminal update, and a FINISHED task's RUNNING
  update was delivered before it. And: the last record of an update log torn by
  hand (a crash mid-append): the agent starts (--strict) and resends the update
  whose acknowledgement was torn off, with the same uuid.
* A4: --recover=cleanup kills the recovered executors and their tasks, reports a
  terminal update per task, and exits 0.
* A5: a task's process is killed while the agent is down: after the restart the
  task gets exactly one terminal update; the other task keeps running.
"""

import os
import signal
import time

import pytest

from conftest import CorralProcess
from helpers import TERMINAL_STATES, command_task, get_json, scaled, wait_until
from mesos_raw import SchedulerStream

pytestmark = pytest.mark.deadline(240)

ITERATIONS = int(os.environ.get("CORRAL_E2E_A1_ITERATIONS", "3"))
AGENT_ENV = {
    "MESOS_STATUS_UPDATE_RETRY_INTERVAL": "1secs",
    "MESOS_STATUS_UPDATE_RETRY_INTERVAL_MAX": "8secs",
    "MESOS_EXECUTOR_REREGISTRATION_TIMEOUT": "4secs",
}
CHECKPOINT = {"checkpoint": True}


# ------------------------------------------------------------- helpers ----

def work_dir(cluster):
    return os.path.realpath(cluster.base_dir / "agent0")


def proc_stat(pid):
    """(state, start time) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[19])


def task_processes(cluster, task_id):
    """{pid: start time} of the live processes whose cwd is the task's sandbox."""
    root = work_dir(cluster)
    marker = f"/executors/{task_id}/runs/"
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if not (cwd.startswith(root) and marker in cwd):
            continue
        stat = proc_stat(entry)
        if stat and stat[0] not in ("Z", "X"):
            found[int(entry)] = stat[1]
    return found


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def kill9_agent(cluster):
    agent = cluster.agents[0]
    agent.stopped_by_us = True
    os.kill(agent.pid, signal.SIGKILL)
    agent.popen.wait(timeout=10)


def start_agent(cluster, name, extra=(), wait_healthy=True):
    """Starts agent 0 again with its original argv (same port and work_dir)."""
    first = cluster.agents[0]
    argv = list(getattr(first, "base_argv", first.argv)) + list(extra)
    agent = CorralProcess(name, argv, cluster._env(cluster.agent_env), cluster.log_dir, first.url)
    agent.base_argv = getattr(first, "base_argv", first.argv)
    cluster.agents[0] = agent
    if wait_healthy:
        cluster._wait_healthy(agent)
    return agent


def master_agent(cluster, agent_id):
    for slave in cluster.json("/slaves")["slaves"]:
        if slave["id"] == agent_id:
            return slave
    return None


def wait_reregistered(cluster, agent_id, since):
    """Until the master saw the agent re-register (after `since`, epoch seconds)."""
    def done():
        slave = master_agent(cluster, agent_id)
        again = slave and (slave.get("reregistered_time") or 0) > since and slave.get("active")
        state = get_json(cluster.agents[0].url, "/state")
        return again and state.get("id") == agent_id
    wait_until(done, 30, lambda: f"agent {agent_id} re-registered\n{cluster.agents[0].tail(40)}")


def master_states(cluster, framework_id):
    tasks = cluster.json("/tasks", {"limit": 1000})["tasks"]
    return {t["id"]: t["state"] for t in tasks if t["framework_id"] == framework_id}


def launch(stream, n, cmd, name):
    offer = stream.next_offer()
    agent_id = offer["agent_id"]["value"]
    tasks = [command_task(agent_id, cmd, name=f"{name}{i}", task_id=f"{name}{i}")
             for i in range(n)]
    stream.launch(offer, tasks)
    return agent_id, [t["task_id"]["value"] for t in tasks]


def running(stream, cluster, ids):
    """Waits for RUNNING everywhere and returns each task's processes."""
    for tid in ids:
        stream.wait_state(tid, "TASK_RUNNING", timeout=60)
    wait_until(lambda: all(len(task_processes(cluster, t)) >= 2 for t in ids), 20,
               "an executor and a task process per task")
    time.sleep(0.5)  # let the acknowledgements reach the agent's logs
    return {tid: task_processes(cluster, tid) for tid in ids}


def uuids(statuses):
    return {s.get("uuid") for s in statuses}


def terminal_uuids(stream, task_id):
    return {s.get("uuid") for s in stream.updates(task_id) if s["state"] in TERMINAL_STATES}


# --------------------------------------------------------------- tests ----

def test_a1_kill9_restart_keeps_every_task(cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="a1", framework_info=CHECKPOINT) as s:
        agent_id, ids = launch(s, 5, "sleep 1000", "a1-")
        before = running(s, cluster, ids)
        seen = uuids(s.updates())
        for i in range(ITERATIONS):
            since = time.time()
            kill9_agent(cluster)
            for tid, procs in before.items():
                assert task_processes(cluster, tid) == procs, f"{tid} changed with the agent down"
            start_agent(cluster, f"agent0-a1-{i}")
            wait_reregistered(cluster, agent_id, since)
            for tid, procs in before.items():
                now = task_processes(cluster, tid)
                assert now == procs, f"round {i}: {tid} processes {procs} -> {now}"
            states = master_states(cluster, s.framework_id)
            assert all(states.get(t) == "TASK_RUNNING" for t in ids), states
        new = [u for u in s.updates() if u.get("uuid") not in seen]
        assert not new, f"status updates that are not resends: {new}"
        assert all(u["state"] == "TASK_RUNNING" for u in s.updates() if u["state"] != "TASK_STARTING")
        log = (cluster.log_dir / f"agent0-a1-{ITERATIONS - 1}.stderr").read_text(errors="replace")
        log += (cluster.log_dir / f"agent0-a1-{ITERATIONS - 1}.stdout").read_text(errors="replace")
        assert "re-adopted executor container" in log, cluster.agents[0].tail(60)


def test_a5_task_killed_while_the_agent_is_down_ends_once(cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="a5", framework_info=CHECKPOINT) as s:
        agent_id, ids = launch(s, 2, "sleep 1000", "a5-")
        before = running(s, cluster, ids)
        victim, survivor = ids
        since = time.time()
        kill9_agent(cluster)
        sleeps = [p for p in before[victim] if comm(p) == "sleep"]
        assert sleeps, f"no sleep process among {before[victim]}"
        for pid in sleeps:
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        start_agent(cluster, "agent0-a5")
        wait_reregistered(cluster, agent_id, since)
        s.wait_update(victim, lambda st: st["state"] in TERMINAL_STATES, 60, "a terminal update")
        time.sleep(scaled(6))  # room for a second terminal update, if there were one
        terminal = [u for u in s.updates(victim) if u["state"] in TERMINAL_STATES]
        assert len(terminal_uuids(s, victim)) == 1, terminal
        assert terminal[0]["state"] in ("TASK_FAILED", "TASK_KILLED", "TASK_LOST"), terminal
        assert task_processes(cluster, survivor) == before[survivor]
        assert master_states(cluster, s.framework_id)[survivor] == "TASK_RUNNING"
        assert not terminal_uuids(s, survivor)


def test_a3_kill9_during_an_update_burst_loses_nothing(cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="a3", framework_info=CHECKPOINT) as s:
        agent_id, ids = launch(s, 8, "sleep 0.$((RANDOM % 9))", "a3-")
        # Kill while the executors start, report RUNNING and FINISHED.
        s.wait_update(ids[0], lambda st: st["state"] in ("TASK_STARTING", "TASK_RUNNING"), 60,
                      "a first update")
        since = time.time()
        kill9_agent(cluster)
        time.sleep(0.5)
        start_agent(cluster, "agent0-a3")
        wait_reregistered(cluster, agent_id, since)
        for tid in ids:
            s.wait_update(tid, lambda st: st["state"] in TERMINAL_STATES, 60, "a terminal update")
        time.sleep(scaled(3))
        for tid in ids:
            statuses = s.updates(tid)
            assert len(terminal_uuids(s, tid)) == 1, statuses
            states = [u["state"] for u in statuses]
            if "TASK_FINISHED" in states:
                assert "TASK_RUNNING" in states[:states.index("TASK_FINISHED")], (tid, states)


def test_a3_a_torn_update_log_tail_is_cut_and_the_update_resent(cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="a3t", framework_info=CHECKPOINT) as s:
        agent_id, ids = launch(s, 1, "sleep 1000", "a3t-")
        before = running(s, cluster, ids)
        running_uuid = next(u["uuid"] for u in s.updates(ids[0]) if u["state"] == "TASK_RUNNING")
        since = time.time()
        kill9_agent(cluster)
        logs = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(work_dir(cluster), "meta"))
                for f in files if f == "task.updates"]
        assert len(logs) == 1, logs
        data = open(logs[0], "rb").read()
        assert data.endswith(b"\n") and b'"ack"' in data.splitlines()[-1], data[-200:]
        # Tear the last record (the acknowledgement of RUNNING), as a crash mid-append would.
        with open(logs[0], "r+b") as f:
            f.truncate(len(data) - 5)
        n_before = len([u for u in s.updates(ids[0]) if u.get("uuid") == running_uuid])
        start_agent(cluster, "agent0-a3t")
        wait_reregistered(cluster, agent_id, since)
        wait_until(lambda: len([u for u in s.updates(ids[0]) if u.get("uuid") == running_uuid])
                   > n_before, 30, "the RUNNING update resent with its uuid")
        fixed = open(logs[0], "rb").read()
        assert fixed.endswith(b"\n"), fixed[-200:]
        assert task_processes(cluster, ids[0]) == before[ids[0]]


def test_a4_recover_cleanup_kills_executors_and_exits(cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="a4", framework_info=CHECKPOINT) as s:
        _, ids = launch(s, 2, "sleep 1000", "a4-")
        before = running(s, cluster, ids)
        kill9_agent(cluster)
        agent = start_agent(cluster, "agent0-a4", ["--recover", "cleanup"], wait_healthy=False)
        code = agent.popen.wait(timeout=scaled(90))
        agent.stopped_by_us = True
        assert code == 0, agent.tail(60)
        for tid, procs in before.items():
            left = [p for p, start in procs.items() if (proc_stat(p) or (None, None))[1] == start
                    and proc_stat(p)[0] not in ("Z", "X")]
            assert not left, f"{tid}: processes {left} survived the cleanup"
        for tid in ids:
            status = s.wait_update(tid, lambda st: st["state"] in TERMINAL_STATES, 30,
                                   "a terminal update")
            # The agent's own update (REASON_EXECUTOR_TERMINATED), or the executor's if it
            # was quick to reconnect and saw its task end by the cleanup's SIGTERM.
            agent_made = status.get("source") == "SOURCE_AGENT"
            if agent_made:
                assert status.get("reason") == "REASON_EXECUTOR_TERMINATED", status
            assert status["state"] in ("TASK_FAILED", "TASK_KILLED", "TASK_LOST"), status
        time.sleep(scaled(1))
        for tid in ids:
            assert len(terminal_uuids(s, tid)) == 1, s.updates(tid)


def test_a6_after_a_reboot_no_process_is_adopted_or_signalled(cluster_factory):
    """A changed boot id (as after a host reboot; here the recorded one is changed by hand)
    means the checkpointed pids may belong to anybody: the agent adopts and signals none of
    them and reports each task terminal once, keeping its agent id."""
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="a6", framework_info=CHECKPOINT) as s:
        agent_id, ids = launch(s, 2, "sleep 1000", "a6-")
        before = running(s, cluster, ids)
        since = time.time()
        kill9_agent(cluster)
        boot_id = os.path.join(work_dir(cluster), "meta", "boot_id")
        assert os.path.exists(boot_id)
        with open(boot_id, "w") as f:
            f.write("00000000-0000-0000-0000-000000000000\n")
        start_agent(cluster, "agent0-a6")
        wait_reregistered(cluster, agent_id, since)
        for tid in ids:
            status = s.wait_update(tid, lambda st: st["state"] in TERMINAL_STATES, 30,
                                   "a terminal update")
            assert status["state"] == "TASK_FAILED", status
            assert status.get("reason") == "REASON_EXECUTOR_TERMINATED", status
        time.sleep(scaled(2))
        for tid in ids:
            assert len(terminal_uuids(s, tid)) == 1, s.updates(tid)
        log = "".join((cluster.log_dir / f"agent0-a6.{ext}").read_text(errors="replace")
                      for ext in ("stdout", "stderr"))
        # The old pids were neither adopted nor signalled (the still-running executors stand
        # in for decoys that reused them; they give up by themselves when the agent refuses
        # their re-subscription).
        assert "re-adopted executor container" not in log, log[-3000:]
        assert "destroying container" not in log, log[-3000:]
        assert all(before[tid] for tid in ids)
        with open(boot_id) as f:
            assert f.read().strip() != "00000000-0000-0000-0000-000000000000"


def test_tasks_of_a_framework_without_checkpointing_are_reported_lost(cluster_factory):
    """Without `checkpoint`, executors do not outlive their agent and nothing is recovered;
    the master learns from the re-registration that the task is gone and tells the
    framework (TASK_LOST from the master), instead of forgetting it silently."""
    cluster = cluster_factory(agents=1, agent_env=AGENT_ENV)
    with SchedulerStream(cluster.master_url, name="nockpt") as s:
        agent_id, ids = launch(s, 1, "sleep 1000", "nockpt-")
        running(s, cluster, ids)
        since = time.time()
        kill9_agent(cluster)
        start_agent(cluster, "agent0-nockpt")
        wait_reregistered(cluster, agent_id, since)
        status = s.wait_update(ids[0], lambda st: st["state"] in TERMINAL_STATES, 30,
                               "a terminal update")
        assert status["state"] == "TASK_LOST", status
        assert status.get("source") == "SOURCE_MASTER", status
        wait_until(lambda: not task_processes(cluster, ids[0]), 30,
                   "the executor and its task to end without their agent")
