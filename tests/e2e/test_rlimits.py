"""POSIX resource limits (`posix/rlimits`, Mesos's `ContainerInfo.rlimit_info`): a real master
and an agent started with `--isolation=posix/cpu,posix/mem,posix/rlimits`, driven by the raw
scheduler.

* a command task with RLMT_NOFILE soft=hard=123 (and, as root, RLMT_CORE unlimited) sees those
  limits (`ulimit` in its sandbox stdout);
* an invalid rlimit (only `soft` set, or soft > hard) is refused by the master at ACCEPT with
  TASK_ERROR and a clear message;
* a hard limit the agent cannot set (RLMT_NOFILE above the kernel's `fs.nr_open`) fails the
  task (TASK_FAILED), and the agent keeps running.
"""

import os
import uuid

import pytest
import requests

from helpers import command_task, find_sandbox, get_json, sandbox_diagnostics
from mesos_raw import SchedulerStream

ISOLATION = "posix/cpu,posix/mem,posix/rlimits"
TERMINAL = ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED", "TASK_GONE")


@pytest.fixture(scope="module")
def rl_cluster(module_cluster_factory):
    return module_cluster_factory(agents=1, agent_env={"MESOS_ISOLATION": ISOLATION})


@pytest.fixture
def agent(rl_cluster):
    proc = rl_cluster.agents[0]
    assert proc.alive(), f"the agent died in an earlier test\n{proc.tail()}"
    yield proc.url
    assert proc.alive(), f"the agent died during the test\n{proc.tail()}"
    assert requests.get(proc.url + "/health", timeout=5).status_code == 200


@pytest.fixture
def stream(rl_cluster, agent):
    s = SchedulerStream(rl_cluster.master_url, name="e2e-rlimits").subscribe()
    yield s
    s.close()


def rlimit(kind, soft=None, hard=None):
    limit = {"type": kind}
    if soft is not None:
        limit["soft"] = soft
    if hard is not None:
        limit["hard"] = hard
    return limit


def rlimit_task(agent_id, cmd, limits):
    return command_task(agent_id, cmd, name="rl", task_id=f"rl-{uuid.uuid4()}", container={
        "type": "MESOS",
        "rlimit_info": {"rlimits": limits},
    })


def run(stream, cmd, limits, timeout=60):
    offer = stream.next_offer()
    task = rlimit_task(offer["agent_id"], cmd, limits)
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    status = stream.wait_update(task_id, lambda s: s["state"] in TERMINAL, timeout,
                                "a terminal state")
    return task_id, status


def read_all(agent_url, path):
    return get_json(agent_url, "/files/read", {"path": path, "offset": 0,
                                               "length": 1 << 20})["data"]


@pytest.mark.deadline(120)
def test_a_task_runs_with_its_rlimits(stream, agent):
    root = os.geteuid() == 0
    limits = [rlimit("RLMT_NOFILE", 123, 123)]
    script = "echo nofile=$(ulimit -n) hard=$(ulimit -Hn)"
    if root:
        limits.append(rlimit("RLMT_CORE"))  # both unset: unlimited
        script += "; echo core=$(ulimit -c) corehard=$(ulimit -Hc)"
    task_id, status = run(stream, script, limits)
    diag = sandbox_diagnostics([agent], task_id=task_id)
    assert status["state"] == "TASK_FINISHED", f"{status}\n{diag}"
    stdout = read_all(agent, f"{find_sandbox(agent, task_id=task_id)}/stdout")
    assert "nofile=123 hard=123" in stdout, diag
    if root:
        assert "core=unlimited corehard=unlimited" in stdout, diag


@pytest.mark.deadline(90)
@pytest.mark.parametrize("limit, message", [
    (rlimit("RLMT_NOFILE", soft=100), "must be set together"),
    (rlimit("RLMT_NOFILE", hard=100), "must be set together"),
    (rlimit("RLMT_NOFILE", 200, 100), "soft limit 200 is greater than hard limit 100"),
])
def test_an_invalid_rlimit_is_a_task_error(stream, agent, limit, message):
    task_id, status = run(stream, "echo should-not-run", [limit], timeout=30)
    assert status["state"] == "TASK_ERROR", status
    assert status.get("reason") == "REASON_TASK_INVALID", status
    assert message in status.get("message", ""), status
    assert find_sandbox(agent, task_id=task_id) is None, "an invalid task must not start"


@pytest.mark.deadline(90)
def test_a_hard_limit_the_agent_cannot_set_fails_the_task(stream, agent):
    with open("/proc/sys/fs/nr_open") as fh:
        nr_open = int(fh.read().strip())
    too_many = nr_open + 1  # setrlimit(RLIMIT_NOFILE) refuses more than fs.nr_open, even as root
    task_id, status = run(stream, "echo should-not-run", [rlimit("RLMT_NOFILE", 64, too_many)],
                          timeout=30)
    assert status["state"] == "TASK_FAILED", status
    assert status.get("reason") == "REASON_CONTAINER_LAUNCH_FAILED", status
    assert "cannot set the hard limit of RLMT_NOFILE" in status.get("message", ""), status
    sandbox = find_sandbox(agent, task_id=task_id)
    if sandbox:
        resp = requests.get(agent + "/files/read", timeout=5,
                            params={"path": f"{sandbox}/stdout", "offset": 0})
        assert resp.status_code == 404 or "should-not-run" not in resp.json()["data"], resp.text
