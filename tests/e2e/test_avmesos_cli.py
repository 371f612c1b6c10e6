"""avmesos-cli 1.0.0 (`python -m avmesos.cli.mesos-cli`) lists what a pymesos
framework runs: agents, the framework, a finished and a running task.

CLI facts this relies on: `agent list` reads /slaves; `framework list`
reads /master/frameworks/ (trailing slash) and only its `frameworks` key,
so a completed framework is never listed, even with --all; `task list`
reads /tasks?order=asc&limit=-1 and shows only TASK_RUNNING without --all.
"""

import getpass
import json
import threading
import uuid

import pytest
from pymesos import MesosSchedulerDriver, Scheduler

from helpers import command_task, stop_pymesos_driver, wait_pymesos, wait_until

FRAMEWORK_NAME = "e2e-cli-framework"


class TwoTasks(Scheduler):
    def __init__(self, tasks):
        self.tasks = tasks          # task_id -> command
        self.launched = False
        self.states = {}
        self.changed = threading.Condition()
        self.reached = threading.Event()
        self.wanted = None

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer["id"], {"refuse_seconds": 300.0})
                continue
            self.launched = True
            driver.launchTasks(offer["id"], [
                command_task(offer["agent_id"], cmd, name="e2e-cli", task_id=tid)
                for tid, cmd in self.tasks.items()], {"refuse_seconds": 300.0})

    def statusUpdate(self, driver, status):
        with self.changed:
            self.states[status["task_id"]["value"]] = status["state"]
            if self.wanted and all(self.states.get(t) == s for t, s in self.wanted.items()):
                self.reached.set()

    def wait_states(self, driver, wanted, timeout):
        with self.changed:
            self.wanted = wanted
            if all(self.states.get(t) == s for t, s in wanted.items()):
                self.reached.set()
        assert wait_pymesos(self.reached, driver, timeout), (
            f"tasks did not reach {wanted}; states: {self.states}")


def run_ok(mesos_cli, *args):
    proc = mesos_cli(*args)
    assert proc.returncode == 0, f"mesos-cli {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def rows(stdout):
    """The CLI's table rows (after the header) as lists of cells."""
    lines = [line.split() for line in stdout.splitlines() if line.strip()]
    return lines[1:]


@pytest.mark.cluster(agents=1)
def test_cli_lists_agents_frameworks_and_tasks(cluster, mesos_cli):
    done_id, sleep_id = f"cli-done-{uuid.uuid4()}", f"cli-sleep-{uuid.uuid4()}"
    sched = TwoTasks({done_id: "exit 0", sleep_id: "sleep 300"})
    driver = MesosSchedulerDriver(sched, {"user": getpass.getuser(), "name": FRAMEWORK_NAME},
                                  cluster.master_address)
    driver.start()
    try:
        sched.wait_states(driver, {done_id: "TASK_FINISHED", sleep_id: "TASK_RUNNING"}, 60)
        framework_id = driver.framework_id
        (agent_id,) = cluster.agent_ids()

        out = run_ok(mesos_cli, "agent", "list")
        assert [agent_id, "True"] in [[r[0], r[-1]] for r in rows(out)], out

        for args in (("framework", "list"), ("framework", "list", "--all")):
            out = run_ok(mesos_cli, *args)
            assert [framework_id, "True"] in [r[:2] for r in rows(out)], out
            assert FRAMEWORK_NAME in out, out

        fw = json.loads(run_ok(mesos_cli, "framework", "inspect", framework_id))
        assert fw["id"] == framework_id and fw["name"] == FRAMEWORK_NAME, fw

        out = run_ok(mesos_cli, "task", "list")
        table = {r[0]: r[1:] for r in rows(out)}
        assert table.get(sleep_id, [None])[:2] == ["TASK_RUNNING", framework_id], out
        assert done_id not in out, f"finished task listed without --all:\n{out}"

        out = run_ok(mesos_cli, "task", "list", "--all")
        table = {r[0]: r[1:] for r in rows(out)}
        assert table.get(sleep_id, [None])[:2] == ["TASK_RUNNING", framework_id], out
        assert table.get(done_id, [None])[:2] == ["TASK_FINISHED", framework_id], out

        task = json.loads(run_ok(mesos_cli, "task", "inspect", sleep_id))
        assert task["id"] == sleep_id and task["framework_id"] == framework_id, task

        stop_pymesos_driver(driver)  # TEARDOWN kills the sleeping task
        wait_until(lambda: sleep_id not in run_ok(mesos_cli, "task", "list"), 30,
                   "the torn-down framework's task to leave `task list`")
    finally:
        stop_pymesos_driver(driver)
