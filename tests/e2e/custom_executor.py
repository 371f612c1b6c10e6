"""A pymesos custom executor, launched by the agent for test_pymesos_executor.py.

On LAUNCH it sends TASK_RUNNING, a framework message "hello:<task id>", waits
(bounded) for a framework message "<x>" from the scheduler and answers
"pong:<x>", then sends TASK_FINISHED whose `data` and `message` echo the
task's `data` as "echo:<data>". Then it stops its driver and exits.

Runs as `<venv python> custom_executor.py`; needs only pymesos (and the
MESOS_* environment the agent provides).
"""

import logging
import os
import sys
import threading
import time

from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data

PING_TIMEOUT = 30      # seconds to wait for the scheduler's message
LIFETIME = 180         # hard cap on this process's life

log = logging.getLogger("custom_executor")


class EchoExecutor(Executor):
    def __init__(self):
        self.ping = threading.Event()
        self.ping_payload = None

    def registered(self, driver, executor_info, framework_info, agent_info):
        log.info("registered: executor %s, framework %s, agent %s",
                 executor_info["executor_id"], framework_info["id"], agent_info.get("id"))

    def launchTask(self, driver, task):
        # Callbacks run on the driver's IO thread: never block it.
        threading.Thread(target=self._run, args=(driver, task), daemon=True).start()

    def _run(self, driver, task):
        task_id = task["task_id"]
        payload = decode_data(task["data"]).decode() if task.get("data") else ""
        log.info("launch %s with data %r", task_id["value"], payload)
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_RUNNING",
                                 "message": "custom executor running"})
        driver.sendFrameworkMessage(encode_data(f"hello:{task_id['value']}".encode()))
        if self.ping.wait(PING_TIMEOUT):
            driver.sendFrameworkMessage(encode_data(f"pong:{self.ping_payload}".encode()))
        else:
            log.warning("no framework message from the scheduler within %ss", PING_TIMEOUT)
        echo = f"echo:{payload}"
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_FINISHED",
                                 "data": encode_data(echo.encode()), "message": echo})
        time.sleep(1)  # let the agent take the update before the stream goes away
        driver.stop()

    def frameworkMessage(self, driver, message):
        self.ping_payload = decode_data(message).decode()
        log.info("framework message %r", self.ping_payload)
        self.ping.set()

    def killTask(self, driver, task_id):
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_KILLED"})
        driver.stop()

    def shutdown(self, driver):
        log.info("shutdown")

    def error(self, driver, message):
        log.error("error from agent: %s", message)


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("starting: MESOS_AGENT_ENDPOINT=%s MESOS_EXECUTOR_ID=%s",
             os.environ.get("MESOS_AGENT_ENDPOINT"), os.environ.get("MESOS_EXECUTOR_ID"))
    timer = threading.Timer(LIFETIME, lambda: os._exit(3))
    timer.daemon = True
    timer.start()
    driver = MesosExecutorDriver(EchoExecutor(), use_addict=True)
    driver.run()
    log.info("driver stopped")


if __name__ == "__main__":
    main()
