"""mesoshttp 0.4.2 MesosClient launches 3 command tasks.

mesoshttp reads the RecordIO stream with iter_lines() and handles an event
only once the next record's length line arrives, so the master is started
with CORRAL_HEARTBEAT_SECS=1 to keep it prompt.
"""

import getpass
import threading
import time
import uuid

import pytest
from mesoshttp.client import MesosClient

from helpers import (TERMINAL_STATES, command_task, find_framework, offer_scalar, scaled,
                     wait_master_task_states, wait_until)

N_TASKS = 3


def wait_thread_event(event, thread, timeout):
    """event.wait(timeout), failing at once if mesoshttp's register() loop gave up."""
    deadline = time.monotonic() + scaled(timeout)
    while not event.wait(0.25):
        assert thread.is_alive(), "mesoshttp register() returned: it gave up (see its log above)"
        if time.monotonic() >= deadline:
            return False
    return True


@pytest.mark.cluster(agents=1, heartbeat_secs=1)
def test_mesoshttp_runs_3_tasks(cluster):
    client = MesosClient(mesos_urls=[cluster.master_url], frameworkName="e2e-mesoshttp",
                         frameworkUser=getpass.getuser())
    lock = threading.Lock()
    pending = [f"mesoshttp-{i}-{uuid.uuid4()}" for i in range(N_TASKS)]
    all_ids = set(pending)
    updates, errors = [], []
    done = threading.Event()

    def on_offers(offers):
        for offer in offers:
            info = offer.get_offer()
            with lock:
                fits = int(min(offer_scalar(info, "cpus") / 0.1 + 1e-9, offer_scalar(info, "mem") / 32))
                batch, pending[:] = pending[:fits], pending[fits:]
            if batch:
                # mesoshttp adds `slave_id` to each TaskInfo; the master must ignore it.
                offer.accept([command_task(info["agent_id"]["value"], f"echo hello from {tid}",
                                           name="e2e-mesoshttp", task_id=tid) for tid in batch])
            else:
                offer.decline({"filters": {"refuse_seconds": 300.0}})

    def on_update(update):
        status = update["status"]
        with lock:
            updates.append(status)
            terminal = {s["task_id"]["value"] for s in updates if s["state"] in TERMINAL_STATES}
        if terminal >= all_ids:
            done.set()

    client.on(MesosClient.OFFERS, on_offers)
    client.on(MesosClient.UPDATE, on_update)
    client.on(MesosClient.ERROR, errors.append)
    thread = threading.Thread(target=client.register, name="mesoshttp", daemon=True)
    thread.start()
    try:
        finished = wait_thread_event(done, thread, 90)
        with lock:
            seen = [(s["task_id"]["value"], s["state"]) for s in updates]
        assert not errors, f"ERROR events: {errors}"
        assert finished, f"not all {N_TASKS} tasks reached a terminal state in 90s; updates: {seen}"
        terminal = {tid: state for tid, state in seen if state in TERMINAL_STATES}
        assert terminal == {tid: "TASK_FINISHED" for tid in all_ids}, seen
        for status in updates:
            assert status.get("agent_id", {}).get("value"), f"UPDATE without agent_id: {status}"
        framework_id = client.frameworkId
        assert framework_id

        wait_master_task_states(cluster.master_url, framework_id, {tid: "TASK_FINISHED" for tid in all_ids})
    finally:
        client.stop = True  # TEARDOWN is sent when the next record (a heartbeat) arrives
        thread.join(scaled(20))
    assert not thread.is_alive(), "mesoshttp register() loop did not end within 20s of stop"
    wait_until(lambda: find_framework(cluster.master_url, framework_id)[0] == "completed",
               30, "the mesoshttp framework to be completed after its TEARDOWN")
