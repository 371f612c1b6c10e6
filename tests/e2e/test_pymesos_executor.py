"""A pymesos custom executor (custom_executor.py) run by a pymesos scheduler:
status updates come from the executor, and framework messages go both ways."""

import getpass
import sys
import threading
import uuid
from pathlib import Path

import pytest
from pymesos import MesosSchedulerDriver, Scheduler

from helpers import (TERMINAL_STATES, b64, cpus_mem, sandbox_diagnostics, stop_pymesos_driver,
                     unb64, wait_master_task_states, wait_pymesos)

EXECUTOR_SCRIPT = Path(__file__).resolve().parent / "custom_executor.py"
PING = "ping-42"


class ExecutorScheduler(Scheduler):
    def __init__(self, task_id, executor_id, payload):
        self.task_id, self.executor_id, self.payload = task_id, executor_id, payload
        self.launched = False
        self.pinged = False
        self.agent_id = None
        self.updates = []
        self.messages = []          # (executor_id value, decoded data)
        self.lock = threading.Lock()
        self.terminal = threading.Event()
        self.pong = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer["id"], {"refuse_seconds": 300.0})
                continue
            self.launched = True
            self.agent_id = offer["agent_id"]
            executor = {
                "executor_id": {"value": self.executor_id},
                "name": "e2e pymesos custom executor",
                "command": {"value": f"{sys.executable} {EXECUTOR_SCRIPT}", "shell": True},
                "resources": cpus_mem(0.1, 128),
            }
            task = {"name": "e2e-custom", "task_id": {"value": self.task_id},
                    "agent_id": offer["agent_id"], "executor": executor,
                    "resources": cpus_mem(0.1, 32), "data": b64(self.payload)}
            driver.launchTasks(offer["id"], [task], {"refuse_seconds": 300.0})

    def statusUpdate(self, driver, status):
        with self.lock:
            self.updates.append(status)
        if status["state"] == "TASK_RUNNING" and not self.pinged:
            self.pinged = True
            driver.sendFrameworkMessage({"value": self.executor_id}, self.agent_id, b64(PING))
        if status["state"] in TERMINAL_STATES:
            self.terminal.set()

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        with self.lock:
            self.messages.append((executor_id.get("value"), unb64(message).decode()))
        if unb64(message).decode().startswith("pong:"):
            self.pong.set()


@pytest.fixture(scope="module")
def run(module_cluster_factory):
    """Run the scenario once; the tests below assert on its parts."""
    cluster = module_cluster_factory(agents=1)
    task_id, executor_id = f"custom-{uuid.uuid4()}", f"pyexec-{uuid.uuid4()}"
    payload = f"payload-{uuid.uuid4()}"
    sched = ExecutorScheduler(task_id, executor_id, payload)
    driver = MesosSchedulerDriver(sched, {"user": getpass.getuser(), "name": "e2e-pymesos-executor"},
                                  cluster.master_address)
    driver.start()
    try:
        wait_pymesos(sched.terminal, driver, 90)
        wait_pymesos(sched.pong, driver, 5)  # best effort: the message may trail the status
        framework_id = driver.framework_id
        diag = sandbox_diagnostics(cluster.agent_urls, executor_id=executor_id)
        yield cluster, sched, framework_id, diag
    finally:
        stop_pymesos_driver(driver)


def test_status_updates_come_from_the_executor(run):
    cluster, sched, framework_id, diag = run
    with sched.lock:
        updates = list(sched.updates)
    states = [s["state"] for s in updates]
    assert "TASK_FINISHED" in states, f"no TASK_FINISHED; states {states}\nexecutor sandbox:\n{diag}"
    assert [s for s in states if s in TERMINAL_STATES] == ["TASK_FINISHED"], states

    running = [s for s in updates if s["state"] == "TASK_RUNNING"]
    finished = [s for s in updates if s["state"] == "TASK_FINISHED"][0]
    assert running, f"no TASK_RUNNING before TASK_FINISHED: {states}"
    assert states.index("TASK_RUNNING") < states.index("TASK_FINISHED")
    for status in (running[0], finished):
        assert status["task_id"]["value"] == sched.task_id
        assert status.get("source") == "SOURCE_EXECUTOR", status
        assert status.get("executor_id", {}).get("value") == sched.executor_id, status
        assert status.get("agent_id", {}).get("value") == sched.agent_id["value"], status
        assert status.get("uuid"), f"executor update forwarded without uuid: {status}"
    assert running[0].get("message") == "custom executor running", running[0]

    echo = f"echo:{sched.payload}"
    assert finished.get("message") == echo, finished
    assert unb64(finished.get("data", "")).decode() == echo, finished

    (task,) = wait_master_task_states(cluster.master_url, framework_id, {sched.task_id: "TASK_FINISHED"})
    assert task["id"] == sched.task_id
    assert task["executor_id"] == sched.executor_id


def test_framework_messages_round_trip(run):
    _cluster, sched, _framework_id, diag = run
    with sched.lock:
        messages = list(sched.messages)
    assert (sched.executor_id, f"hello:{sched.task_id}") in messages, (
        f"executor -> scheduler MESSAGE not delivered; got {messages}\nexecutor sandbox:\n{diag}")
    assert (sched.executor_id, f"pong:{PING}") in messages, (
        f"scheduler -> executor MESSAGE (or its answer) not delivered; got {messages}\n"
        f"executor sandbox:\n{diag}")
