"""An agent the operator marks gone shuts down for good (issue 5, "nothing lost"), against
real master and agent processes.

Mesos tells a removed agent to shut down; Corral's master does the same with a SHUTDOWN
message on the agent's session stream (and a `410` carrying SHUTDOWN when a gone agent tries
to re-subscribe). The agent destroys its containers, stops re-registering and exits with
code 3. Checked here:

* MARK_AGENT_GONE on a connected agent with running tasks: the partition-aware framework gets
  TASK_GONE_BY_OPERATOR, the task processes are gone, the agent process exits within a few
  seconds with code 3 and says why in its log.
* The same agent restarted on the same work_dir (it recovers its agent id) is refused and
  exits again with code 3 after one subscription attempt, instead of retrying forever.
* An agent that became unreachable (SIGSTOP past the ping allowance): the master's `/state`
  and GET_TASKS list its task under the framework's `unreachable_tasks` as TASK_UNREACHABLE;
  marked gone, the task moves to `completed_tasks` as TASK_GONE_BY_OPERATOR; resumed, the
  agent is refused (410 + SHUTDOWN), kills its task and exits with code 3.
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

pytestmark = pytest.mark.deadline(120)

AGENT_ENV = {"MESOS_STATUS_UPDATE_RETRY_INTERVAL": "1secs"}
# crates/cli/src/daemons.rs: AGENT_SHUT_DOWN_BY_MASTER_EXIT_CODE.
EXIT_SHUT_DOWN_BY_MASTER = 3
TASKS = 2


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def launch_sleepers(stream, tmp_path, count):
    """`count` sleepers on the (one) agent, each writing its pid; returns
    (agent_id, {task_id: pid}) once all are TASK_RUNNING."""
    offer = stream.next_offer(timeout=30)
    agent_id = offer["agent_id"]["value"]
    files = {}
    infos = []
    for _ in range(count):
        task_id = f"gone-{uuid.uuid4()}"
        files[task_id] = tmp_path / f"{task_id}.pid"
        infos.append(command_task(agent_id, f"echo $$ > {files[task_id]}; exec sleep 600",
                                  name="gone", task_id=task_id))
    stream.launch(offer, infos, refuse_seconds=3600)
    for task_id in files:
        stream.wait_state(task_id, "TASK_RUNNING", timeout=60)

    def pids():
        if all(p.exists() and p.read_text().strip() for p in files.values()):
            return {t: int(p.read_text().strip()) for t, p in files.items()}
        return None
    return agent_id, wait_until(pids, 30, "every task to write its pid file")


def mark_gone(cluster, agent_id):
    resp = requests.post(cluster.master_url + "/api/v1", data=json.dumps({
        "type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent_id}}}),
        headers={"Content-Type": JSON, "Accept": JSON}, timeout=scaled(10))
    assert resp.status_code == 200, (resp.status_code, resp.text)


def wait_exit(proc, timeout):
    try:
        return proc.popen.wait(timeout=scaled(timeout))
    except Exception as exc:  # noqa: BLE001 - reported with the log
        raise AssertionError(f"corral {proc.name} still running after {timeout}s\n"
                             f"{proc.tail()}") from exc


def log_text(proc):
    return "".join(p.read_text(errors="replace")
                   for p in (proc.stdout_path, proc.stderr_path) if p.exists())


def test_a_gone_agent_shuts_down_kills_its_tasks_and_stays_down(cluster_factory, tmp_path):
    cluster = cluster_factory(agents=1, heartbeat_secs=1, agent_env=AGENT_ENV)
    agent = cluster.agents[0]
    fw = SchedulerStream(cluster.master_url, framework_info={
        "name": "gone", "failover_timeout": 600.0, "checkpoint": True,
        "capabilities": [{"type": "PARTITION_AWARE"}]}).subscribe()
    try:
        agent_id, pids = launch_sleepers(fw, tmp_path, TASKS)
        assert all(pid_alive(p) for p in pids.values()), pids

        # The agent will exit on its own: that is the point.
        agent.stopped_by_us = True
        marked = time.monotonic()
        mark_gone(cluster, agent_id)
        for task_id in pids:
            fw.wait_state(task_id, "TASK_GONE_BY_OPERATOR", timeout=10)

        code = wait_exit(agent, 15)
        exited_after = time.monotonic() - marked
        assert code == EXIT_SHUT_DOWN_BY_MASTER, (code, agent.tail())
        assert exited_after < scaled(10), exited_after
        log = log_text(agent)
        assert "the master shut this agent down for good" in log, agent.tail()
        wait_until(lambda: not any(pid_alive(p) for p in pids.values()), 10,
                   lambda: f"the task processes to be gone: "
                           f"{[p for p in pids.values() if pid_alive(p)]}")
        print(f"[agent-gone] agent exited {exited_after:.2f}s after MARK_AGENT_GONE")

        # A restart on the same work_dir recovers the agent id, is refused and exits again
        # after a single subscription attempt (no retry loop).
        again = CorralProcess("agent0-restarted", agent.argv, cluster._env(cluster.agent_env),
                              cluster.log_dir, agent.url)
        again.stopped_by_us = True
        cluster.agents.append(again)
        started = time.monotonic()
        code = wait_exit(again, 20)
        assert code == EXIT_SHUT_DOWN_BY_MASTER, (code, again.tail())
        log = log_text(again)
        assert "marked gone" in log, again.tail()
        assert log.count("subscribing to the master") == 1, again.tail()
        print(f"[agent-gone] restarted agent exited {time.monotonic() - started:.2f}s "
              f"after start")

        slaves = cluster.json("/slaves")["slaves"]
        assert not any(s["id"] == agent_id and s.get("active") for s in slaves), slaves
        reg = cluster.json("/registrar(1)/registry")
        assert [s["id"]["value"] for s in reg["gone"]["slaves"]] == [agent_id], reg
        # Nothing the framework heard afterwards brings the tasks back.
        states = [e["update"]["status"]["state"] for e in fw.events if e["type"] == "UPDATE"
                  and e["update"]["status"]["task_id"]["value"] in pids]
        assert states[-TASKS:] == ["TASK_GONE_BY_OPERATOR"] * TASKS, states
        assert os.path.isdir(agent.argv[agent.argv.index("--work_dir") + 1])
    finally:
        fw.close(teardown=False)


def framework_state(cluster, framework_id):
    state = cluster.json("/state")
    (f,) = [f for f in state["frameworks"] if f["id"] == framework_id]
    return f


def task_states(tasks):
    return [(t["id"], t["state"]) for t in tasks]


def get_tasks(cluster):
    resp = requests.post(cluster.master_url + "/api/v1", data=json.dumps({"type": "GET_TASKS"}),
                         headers={"Content-Type": JSON, "Accept": JSON}, timeout=scaled(10))
    assert resp.status_code == 200, (resp.status_code, resp.text)
    return resp.json()["get_tasks"]


def test_an_unreachable_agent_shows_its_tasks_then_is_refused_when_gone(cluster_factory,
                                                                       tmp_path):
    cluster = cluster_factory(agents=1, heartbeat_secs=1, agent_env=AGENT_ENV, master_env={
        "MESOS_AGENT_PING_TIMEOUT": "1secs", "MESOS_MAX_AGENT_PING_TIMEOUTS": "3"})
    agent = cluster.agents[0]
    fw = SchedulerStream(cluster.master_url, framework_info={
        "name": "partitioned", "failover_timeout": 600.0, "checkpoint": True,
        "capabilities": [{"type": "PARTITION_AWARE"}]}).subscribe()
    stopped = False
    try:
        agent_id, pids = launch_sleepers(fw, tmp_path, 1)
        (task_id, pid), = pids.items()

        agent.stopped_by_us = True
        os.kill(agent.pid, signal.SIGSTOP)
        stopped = True
        fw.wait_state(task_id, "TASK_UNREACHABLE", timeout=20)
        f = framework_state(cluster, fw.framework_id)
        assert task_states(f["unreachable_tasks"]) == [(task_id, "TASK_UNREACHABLE")], f
        assert f["unreachable_tasks"][0]["statuses"][-1]["state"] == "TASK_UNREACHABLE", f
        assert task_id not in [t["id"] for t in f["tasks"] + f["completed_tasks"]], f
        tasks = get_tasks(cluster)
        assert [t["task_id"]["value"] for t in tasks.get("unreachable_tasks", [])] == [task_id]
        assert tasks["unreachable_tasks"][0]["state"] == "TASK_UNREACHABLE", tasks

        mark_gone(cluster, agent_id)
        f = framework_state(cluster, fw.framework_id)
        assert f["unreachable_tasks"] == [], f
        assert task_states(f["completed_tasks"]) == [(task_id, "TASK_GONE_BY_OPERATOR")], f

        # Resumed, the agent finds its session gone, is refused for good and exits.
        os.kill(agent.pid, signal.SIGCONT)
        stopped = False
        resumed = time.monotonic()
        code = wait_exit(agent, 30)
        assert code == EXIT_SHUT_DOWN_BY_MASTER, (code, agent.tail())
        assert "marked gone" in log_text(agent), agent.tail()
        wait_until(lambda: not pid_alive(pid), 10, "the task process to be gone")
        print(f"[agent-gone] resumed gone agent exited {time.monotonic() - resumed:.2f}s "
              f"after SIGCONT")
    finally:
        if stopped:
            os.kill(agent.pid, signal.SIGCONT)
        fw.close(teardown=False)
