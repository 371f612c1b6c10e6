"""pymesos 0.3.15 MesosSchedulerDriver runs 20 command tasks across offers."""

import getpass
import threading
import uuid

import pytest
from pymesos import MesosSchedulerDriver, Scheduler

from helpers import (TERMINAL_STATES, command_task, find_framework, framework_tasks, offer_scalar,
                     stop_pymesos_driver, wait_master_task_states, wait_pymesos, wait_until)

N_OK, N_FAIL = 10, 10
TASKS_PER_OFFER = 5      # forces the launches to span several offers
CPUS, MEM = 0.1, 32


class BatchScheduler(Scheduler):
    def __init__(self, tasks):
        self.lock = threading.Lock()
        self.pending = list(tasks)          # (task_id, cmd), launched in order
        self.expected = {}                  # task_id -> expected terminal state
        self.updates = []                   # every status, in arrival order
        self.offers_used = 0
        self.done = threading.Event()
        self.total = len(tasks)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.lock:
                cpus, mem = offer_scalar(offer, "cpus"), offer_scalar(offer, "mem")
                batch = []
                while self.pending and len(batch) < TASKS_PER_OFFER \
                        and cpus >= CPUS - 1e-9 and mem >= MEM:
                    task_id, cmd = self.pending.pop(0)
                    batch.append(command_task(offer["agent_id"], cmd, name="e2e-pymesos",
                                              cpus=CPUS, mem=MEM, task_id=task_id))
                    cpus, mem = cpus - CPUS, mem - MEM
                if batch:
                    self.offers_used += 1
            if batch:
                driver.launchTasks(offer["id"], batch, {"refuse_seconds": 0.0})
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 300.0})

    def statusUpdate(self, driver, status):
        with self.lock:
            self.updates.append(status)
            finished = {s["task_id"]["value"] for s in self.updates if s["state"] in TERMINAL_STATES}
            if len(finished) >= self.total:
                self.done.set()


@pytest.mark.cluster(agents=2)
def test_pymesos_runs_20_command_tasks(cluster):
    tasks = [(f"ok-{i}-{uuid.uuid4()}", "exit 0") for i in range(N_OK)]
    tasks += [(f"fail-{i}-{uuid.uuid4()}", "exit 3") for i in range(N_FAIL)]
    expected = {tid: ("TASK_FINISHED" if cmd == "exit 0" else "TASK_FAILED") for tid, cmd in tasks}
    sched = BatchScheduler(tasks)
    driver = MesosSchedulerDriver(sched, {"user": getpass.getuser(), "name": "e2e-pymesos-batch"},
                                  cluster.master_address, implicit_acknowledgements=True)
    driver.start()
    stopped = False
    try:
        finished = wait_pymesos(sched.done, driver, 120)
        with sched.lock:
            updates = list(sched.updates)
            still_pending = len(sched.pending)
        if not finished:
            n_done = len({s["task_id"]["value"] for s in updates if s["state"] in TERMINAL_STATES})
            master_view = sorted((t["id"], t["state"]) for t in framework_tasks(cluster.master_url, driver.framework_id))
            pytest.fail(f"only {n_done}/20 tasks reached a terminal state in 120s ({still_pending} never "
                        f"launched)\nupdates seen: {[(s['task_id']['value'], s['state']) for s in updates]}"
                        f"\nmaster /tasks: {master_view}")

        # Exactly the expected terminal state per task, nothing else terminal,
        # and nothing non-terminal after a terminal state (updates are ordered).
        terminal = {}
        for s in updates:
            tid = s["task_id"]["value"]
            assert tid in expected, f"update for a task we never launched: {s}"
            assert s.get("agent_id", {}).get("value"), f"UPDATE status without agent_id: {s}"
            if s["state"] in TERMINAL_STATES:
                terminal.setdefault(tid, set()).add(s["state"])
            else:
                assert s["state"] in ("TASK_STARTING", "TASK_RUNNING"), f"unexpected state: {s}"
                assert tid not in terminal, f"{s['state']} after {terminal[tid]} for {tid}"
        wrong = {tid: states for tid, states in terminal.items() if states != {expected[tid]}}
        assert not wrong, f"wrong terminal states: {wrong}"
        assert set(terminal) == set(expected)
        assert sched.offers_used >= 20 // TASKS_PER_OFFER

        framework_id = driver.framework_id
        assert framework_id, "driver never got a framework id"
        status, fw = find_framework(cluster.master_url, framework_id)
        assert status == "active" and fw["name"] == "e2e-pymesos-batch", (status, fw)

        # The master's view: 20 tasks with the right states (acks processed).
        tasks_seen = wait_master_task_states(cluster.master_url, framework_id, expected)
        for task in tasks_seen:
            assert task["statuses"], f"task without statuses: {task}"
            assert task["statuses"][-1]["state"] == expected[task["id"]]

        stop_pymesos_driver(driver)  # sends TEARDOWN
        stopped = True
        wait_until(lambda: find_framework(cluster.master_url, framework_id)[0] == "completed",
                   30, "the framework to be listed in completed_frameworks after TEARDOWN")
    finally:
        if not stopped:
            stop_pymesos_driver(driver)
