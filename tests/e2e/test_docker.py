"""DOCKER tasks on a real Docker engine (the agent's `--containerizers=docker,mesos`).

A private dockerd is started by `scripts/docker-engine.sh` (vfs storage, no iptables, a
Linux bridge `corral-br<N>` of its own as Docker's default bridge, its socket in a temp dir) with the local image `corral-test/busybox:latest` (no
registry is reachable). A real master and agent run the tasks through the built-in Docker
executor (`corral executor --docker`), driven by the raw v1 scheduler:

* a task's output reaches the sandbox's stdout (read through the agent's /files/read), the
  container is named `mesos-<container id>` and is removed once the task finished; its URIs
  are fetched into the sandbox, which the container sees at /mnt/mesos/sandbox;
* a long task is killed (TASK_KILLED) and its container is gone; its cgroup limits come
  from its resources;
* networks NONE, HOST, BRIDGE (Docker's default bridge) and USER (a user-defined network)
  with a port mapping reachable from the host, the container's address reported with
  TASK_RUNNING;
* health checks: a COMMAND check runs inside the container (`docker exec`), an HTTP check
  reaches the container port through its port mapping;
* a missing image and an unsupported parameter are TASK_FAILED with a clear message;
* an agent without the docker containerizer fails DOCKER tasks;
* when the Docker executor is killed, the agent removes the container it left behind;
* the container survives `kill -9` of the agent and a restart with the same work dir (same
  container id and start time), and can still be killed afterwards;
* after an agent restart: a re-adopted executor that dies, or whose container exits, gives
  its task exactly one terminal update and its container is removed; an executor that died
  while the agent was down has its still-running container removed and its task reported;
* `--docker_kill_orphans`: on recovery, this agent's `mesos-` containers of no checkpointed
  run are removed (not those of another agent on the same engine, nor other containers);
  with `--docker_kill_orphans=false` they stay.

Needs root (dockerd); skipped with the reason when the engine cannot start.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import CorralProcess
import requests

from helpers import agent_executors, cpus_mem, get_json, port_range, scaled, wait_until
from mesos_raw import SchedulerStream

REPO = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = REPO / "scripts" / "docker-engine.sh"
IMAGE = "corral-test/busybox:latest"
USER_NETWORK = "corral-e2e"
TERMINAL = ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED")


# ------------------------------------------------------------- engine ----

class Engine:
    def __init__(self, root):
        self.root = root
        self.socket = root / "docker.sock"

    def docker(self, *args, check=True, timeout=60):
        return subprocess.run(["docker", "--host", f"unix://{self.socket}", *args],
                              capture_output=True, text=True, timeout=timeout, check=check)

    def inspect(self, name):
        """`docker inspect` of a container, or None if there is none."""
        out = self.docker("container", "inspect", name, check=False)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)[0]


@pytest.fixture(scope="module")
def engine():
    if os.geteuid() != 0:
        pytest.skip("docker e2e: needs root to run dockerd")
    # A short path: the socket path must fit in sockaddr_un (108 bytes).
    root = Path(f"/tmp/corral-e2e-docker-{os.getpid()}")
    root.mkdir(exist_ok=True)
    started = subprocess.run([str(ENGINE_SCRIPT), "start", str(root)], capture_output=True,
                             text=True, timeout=scaled(600))
    if started.returncode != 0:
        pytest.skip(f"docker e2e: the Docker engine cannot start here: {started.stderr[-2000:]}")
    engine = Engine(root)
    if engine.docker("network", "inspect", USER_NETWORK, check=False).returncode != 0:
        engine.docker("network", "create", USER_NETWORK)
    yield engine
    # A user network is a host bridge that outlives dockerd: remove it first.
    for container in engine.docker("ps", "-aq", check=False).stdout.split():
        engine.docker("rm", "-f", container, check=False)
    engine.docker("network", "rm", USER_NETWORK, check=False)
    subprocess.run([str(ENGINE_SCRIPT), "stop", str(root)], capture_output=True, timeout=120)
    shutil.rmtree(root, ignore_errors=True)


def docker_env(engine, stop_timeout="1secs"):
    return {
        "MESOS_CONTAINERIZERS": "docker,mesos",
        "MESOS_DOCKER_SOCKET": str(engine.socket),
        "MESOS_DOCKER_STOP_TIMEOUT": stop_timeout,
    }


@pytest.fixture(scope="module")
def docker_cluster(engine, module_cluster_factory):
    return module_cluster_factory(agents=1, agent_env=docker_env(engine))


@pytest.fixture
def stream(docker_cluster):
    agent = docker_cluster.agents[0]
    assert agent.alive(), f"the agent died in an earlier test\n{agent.tail()}"
    s = SchedulerStream(docker_cluster.master_url, name="e2e-docker").subscribe()
    yield s
    s.close()


# ------------------------------------------------------------ helpers ----

def docker_task(agent_id, cmd, network="HOST", image=IMAGE, cpus=0.1, mem=32, **docker):
    info = {"image": image, "network": network}
    info.update(docker)
    return {
        "name": "docker",
        "task_id": {"value": f"docker-{uuid.uuid4()}"},
        "agent_id": agent_id,
        "resources": cpus_mem(cpus, mem),
        "command": {"value": cmd, "shell": True},
        "container": {"type": "DOCKER", "docker": info},
    }


def launch(stream, **kw):
    cmd = kw.pop("cmd")
    offer = stream.next_offer()
    task = docker_task(offer["agent_id"], cmd, **kw)
    stream.launch(offer, [task])
    return task["task_id"]["value"]


def wait_terminal(stream, task_id, timeout=60):
    return stream.wait_update(task_id, lambda s: s["state"] in TERMINAL, timeout,
                              "a terminal state")


def executor_of(agent_url, task_id):
    """(container id, sandbox) of the executor that runs `task_id`."""
    for _fw, ex in agent_executors(get_json(agent_url, "/state")):
        if ex.get("id") == task_id and ex.get("container"):
            return ex["container"], ex["directory"]
    raise AssertionError(f"no executor for {task_id} in the agent's /state")


def read_file(agent_url, path):
    return get_json(agent_url, "/files/read", {"path": path, "offset": 0,
                                               "length": 100000})["data"]


def diagnostics(cluster, task_id):
    agent = cluster.agents[0].url
    try:
        _cid, sandbox = executor_of(agent, task_id)
        return "\n".join(f"--- {name} ---\n{read_file(agent, f'{sandbox}/{name}')}"
                         for name in ("stdout", "stderr"))
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return f"<no sandbox: {exc!r}>\n{cluster.logs()}"


# -------------------------------------------------------------- tests ----

@pytest.mark.deadline(120)
def test_task_output_reaches_the_sandbox(engine, docker_cluster, stream):
    task_id = launch(stream, cmd="echo hello-from-docker; cat /etc/hostname; "
                                 "echo sandbox=$MESOS_SANDBOX; echo name=$MESOS_CONTAINER_NAME; "
                                 "echo oops >&2")
    status = wait_terminal(stream, task_id)
    assert status["state"] == "TASK_FINISHED", (status, diagnostics(docker_cluster, task_id))
    states = [s["state"] for s in stream.updates(task_id)]
    assert "TASK_RUNNING" in states and states.index("TASK_RUNNING") < states.index(
        "TASK_FINISHED"), states
    agent = docker_cluster.agents[0].url
    container_id, sandbox = executor_of(agent, task_id)
    stdout = read_file(agent, f"{sandbox}/stdout")
    assert "hello-from-docker" in stdout, stdout
    # HOST network: the container has the host's name.
    assert socket.gethostname() in stdout, stdout
    assert "sandbox=/mnt/mesos/sandbox" in stdout, stdout
    assert f"name=mesos-{container_id}" in stdout, stdout
    assert "oops" in read_file(agent, f"{sandbox}/stderr")
    # The finished container was removed.
    wait_until(lambda: engine.inspect(f"mesos-{container_id}") is None, scaled(10),
               "the finished container to be removed")


@pytest.mark.deadline(120)
def test_uris_are_fetched_into_the_mapped_sandbox(docker_cluster, stream, tmp_path):
    data = tmp_path / "payload.txt"
    data.write_text("fetched-payload\n")
    offer = stream.next_offer()
    task = docker_task(offer["agent_id"], "cat $MESOS_SANDBOX/payload.txt && "
                       "echo written > $MESOS_SANDBOX/from-container.txt", network="NONE")
    task["command"]["uris"] = [{"value": str(data)}]
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    status = wait_terminal(stream, task_id)
    assert status["state"] == "TASK_FINISHED", (status, diagnostics(docker_cluster, task_id))
    agent = docker_cluster.agents[0].url
    _cid, sandbox = executor_of(agent, task_id)
    assert "fetched-payload" in read_file(agent, f"{sandbox}/stdout")
    # The sandbox is bind-mounted read-write.
    assert read_file(agent, f"{sandbox}/from-container.txt") == "written\n"


@pytest.mark.deadline(120)
def test_kill_stops_and_removes_the_container(engine, docker_cluster, stream):
    task_id = launch(stream, cmd="echo started; exec sleep 1000", cpus=0.5, mem=64)
    stream.wait_state(task_id, "TASK_RUNNING")
    container_id, _sandbox = executor_of(docker_cluster.agents[0].url, task_id)
    name = f"mesos-{container_id}"
    found = engine.inspect(name)
    assert found is not None and found["State"]["Running"], found
    # Limits from the task's resources: 0.5 cpus, 64 MB.
    host = found["HostConfig"]
    assert host["CpuShares"] == 512, host
    assert (host["CpuPeriod"], host["CpuQuota"]) == (100000, 50000), host
    assert host["Memory"] == 64 * 1024 * 1024, host
    assert host["NetworkMode"] == "host", host
    stream.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
    status = wait_terminal(stream, task_id, timeout=30)
    assert status["state"] == "TASK_KILLED", status
    wait_until(lambda: engine.inspect(name) is None, scaled(10), f"{name} to be removed")


@pytest.mark.deadline(120)
def test_network_none(engine, docker_cluster, stream):
    task_id = launch(stream, cmd="ls /sys/class/net", network="NONE")
    status = wait_terminal(stream, task_id)
    assert status["state"] == "TASK_FINISHED", (status, diagnostics(docker_cluster, task_id))
    _cid, sandbox = executor_of(docker_cluster.agents[0].url, task_id)
    interfaces = read_file(docker_cluster.agents[0].url, f"{sandbox}/stdout").split()
    assert "lo" in interfaces, interfaces
    assert not [i for i in interfaces if i.startswith(("eth", "en"))], interfaces


def first_port(offer):
    for resource in offer["resources"]:
        if resource["name"] == "ports":
            return resource["ranges"]["range"][0]["begin"]
    raise AssertionError(f"no ports in the offer {offer}")


@pytest.mark.deadline(120)
def test_user_network_with_a_port_mapping(engine, docker_cluster, stream):
    offer = stream.next_offer()
    host_port = first_port(offer)
    task = docker_task(offer["agent_id"], "mkdir -p /tmp/www && echo hello-port > "
                       "/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
                       network="USER", port_mappings=[
                           {"host_port": host_port, "container_port": 8080, "protocol": "tcp"}])
    task["container"]["network_infos"] = [{"name": USER_NETWORK}]
    task["resources"].append(port_range(host_port, host_port))
    # Probes the container port 8080, i.e. its mapped host port.
    task["health_check"] = {"type": "HTTP", "http": {"port": 8080, "path": "/"},
                            "delay_seconds": 0, "interval_seconds": 0.3,
                            "grace_period_seconds": 20}
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    running = stream.wait_update(task_id, lambda s: s["state"] in ("TASK_RUNNING",) + TERMINAL,
                                 60, "TASK_RUNNING")
    assert running["state"] == "TASK_RUNNING", (running, diagnostics(docker_cluster, task_id))
    container_id, _sandbox = executor_of(docker_cluster.agents[0].url, task_id)
    found = engine.inspect(f"mesos-{container_id}")
    address = found["NetworkSettings"]["Networks"][USER_NETWORK]["IPAddress"]
    assert address, found["NetworkSettings"]
    # TASK_RUNNING reports the container's address on its network (Mesos-DNS, Marathon use it).
    reported = running["container_status"]["network_infos"]
    assert reported == [{"name": USER_NETWORK, "ip_addresses": [
        {"protocol": "IPv4", "ip_address": address}]}], reported
    assert found["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostPort"] == str(host_port)

    def served():
        try:
            return requests.get(f"http://127.0.0.1:{host_port}/", timeout=2).text
        except requests.RequestException:
            return None
    wait_until(lambda: served() == "hello-port\n", scaled(20),
               f"the task's httpd through host port {host_port}")
    healthy = stream.wait_update(task_id, lambda s: s.get("healthy") is not None, 30,
                                 "a health update")
    assert healthy["healthy"] is True, healthy
    stream.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
    assert wait_terminal(stream, task_id, timeout=30)["state"] == "TASK_KILLED"


@pytest.mark.deadline(120)
def test_command_health_check_runs_in_the_container(engine, docker_cluster, stream):
    marker = f"/tmp/ready-{uuid.uuid4()}"  # exists in the container only
    offer = stream.next_offer()
    task = docker_task(offer["agent_id"], f"touch {marker} && exec sleep 1000", network="NONE")
    task["health_check"] = {"type": "COMMAND", "command": {"value": f"test -f {marker}"},
                            "delay_seconds": 0, "interval_seconds": 0.3,
                            "grace_period_seconds": 20}
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    status = stream.wait_update(task_id, lambda s: s.get("healthy") is not None
                                or s["state"] in TERMINAL, 30, "a health update")
    assert status["state"] == "TASK_RUNNING", (status, diagnostics(docker_cluster, task_id))
    assert status["healthy"] is True, status
    assert not os.path.exists(marker)
    stream.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
    assert wait_terminal(stream, task_id, timeout=30)["state"] == "TASK_KILLED"


@pytest.mark.deadline(120)
def test_exit_status_fails_the_task(docker_cluster, stream):
    task_id = launch(stream, cmd="exit 3")
    status = wait_terminal(stream, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert "3" in status.get("message", ""), status


@pytest.mark.deadline(120)
def test_missing_image_fails_clearly(docker_cluster, stream):
    task_id = launch(stream, cmd="true", image="corral-test/no-such-image:1")
    status = wait_terminal(stream, task_id, timeout=90)
    assert status["state"] == "TASK_FAILED", status
    message = status.get("message", "")
    assert "Failed to pull image 'corral-test/no-such-image:1'" in message, status


@pytest.mark.deadline(120)
def test_unsupported_parameter_fails_clearly(docker_cluster, stream):
    task_id = launch(stream, cmd="true",
                     parameters=[{"key": "device", "value": "/dev/fuse"}])
    status = wait_terminal(stream, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert "unsupported docker parameter '--device'" in status.get("message", ""), status


@pytest.mark.deadline(120)
def test_agent_without_docker_containerizer_fails_docker_tasks(engine, cluster_factory):
    cluster = cluster_factory(agents=1)  # default --containerizers=mesos
    with SchedulerStream(cluster.master_url, name="e2e-docker-off") as s:
        task_id = launch(s, cmd="true")
        status = wait_terminal(s, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert "--containerizers" in status.get("message", ""), status


@pytest.mark.deadline(120)
def test_unreachable_engine_fails_docker_tasks_clearly(engine, cluster_factory, tmp_path):
    env = docker_env(engine)
    env["MESOS_DOCKER_SOCKET"] = str(tmp_path / "no-such.sock")
    cluster = cluster_factory(agents=1, agent_env=env)
    with SchedulerStream(cluster.master_url, name="e2e-docker-nosock") as s:
        task_id = launch(s, cmd="true")
        status = wait_terminal(s, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert "cannot connect to the Docker engine" in status.get("message", ""), status


def executor_pids(container_name):
    """Pids of the Docker executor(s) driving `container_name`."""
    needle = f"MESOS_CONTAINER={container_name}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.deadline(120)
def test_agent_removes_the_container_of_a_killed_executor(engine, docker_cluster, stream):
    task_id = launch(stream, cmd="exec sleep 1000")
    stream.wait_state(task_id, "TASK_RUNNING")
    container_id, _sandbox = executor_of(docker_cluster.agents[0].url, task_id)
    name = f"mesos-{container_id}"
    assert engine.inspect(name)["State"]["Running"]
    pids = executor_pids(name)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    status = wait_terminal(stream, task_id, timeout=30)
    assert status["state"] in ("TASK_FAILED", "TASK_LOST"), status
    wait_until(lambda: engine.inspect(name) is None, scaled(15),
               f"the agent to remove {name} after its executor died")


def restart_agent(cluster):
    """kill -9 the agent, start it again with the same flags and work dir."""
    old = cluster.agents[0]
    old.stopped_by_us = True
    os.killpg(old.pid, signal.SIGKILL)
    old.popen.wait(timeout=10)
    new = CorralProcess("agent0-restarted", old.argv, cluster._env(cluster.agent_env),
                        cluster.log_dir, old.url)
    cluster.agents[0] = new
    cluster._wait_healthy(new)
    return new


@pytest.mark.deadline(180)
def test_container_survives_an_agent_restart(engine, cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=docker_env(engine))
    with SchedulerStream(cluster.master_url, name="e2e-docker-restart",
                         framework_info={"checkpoint": True,
                                         "failover_timeout": 600.0}) as s:
        task_id = launch(s, cmd="exec sleep 1000")
        s.wait_state(task_id, "TASK_RUNNING")
        container_id, _sandbox = executor_of(cluster.agents[0].url, task_id)
        name = f"mesos-{container_id}"
        before = engine.inspect(name)
        assert before is not None and before["State"]["Running"], before

        agent = restart_agent(cluster)
        wait_until(lambda: any(sl.get("active") for sl in get_json(
            cluster.master_url, "/slaves")["slaves"]), scaled(30), "the agent re-registered")

        def task_running_on_agent():
            for _fw, ex in agent_executors(get_json(agent.url, "/state")):
                if ex.get("id") == task_id:
                    return any(t.get("state") == "TASK_RUNNING" for t in ex.get("tasks", []))
            return False
        wait_until(task_running_on_agent, scaled(30), "the recovered task in the agent's /state")
        after = engine.inspect(name)
        assert after is not None and after["State"]["Running"], after
        assert after["Id"] == before["Id"], "the container was replaced"
        assert after["State"]["StartedAt"] == before["State"]["StartedAt"], "it was restarted"

        s.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
        status = wait_terminal(s, task_id, timeout=30)
        assert status["state"] == "TASK_KILLED", (status, cluster.logs())
        wait_until(lambda: engine.inspect(name) is None, scaled(10), f"{name} to be removed")


# ------------------------------------------------- BRIDGE and recovery ----

@pytest.mark.deadline(120)
def test_bridge_network_with_a_port_mapping(engine, docker_cluster, stream):
    offer = stream.next_offer()
    host_port = first_port(offer)
    task = docker_task(offer["agent_id"], "mkdir -p /tmp/www && echo hello-bridge > "
                       "/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
                       network="BRIDGE", port_mappings=[
                           {"host_port": host_port, "container_port": 8080, "protocol": "tcp"}])
    task["resources"].append(port_range(host_port, host_port))
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    running = stream.wait_update(task_id, lambda s: s["state"] in ("TASK_RUNNING",) + TERMINAL,
                                 60, "TASK_RUNNING")
    assert running["state"] == "TASK_RUNNING", (running, diagnostics(docker_cluster, task_id))
    container_id, _sandbox = executor_of(docker_cluster.agents[0].url, task_id)
    found = engine.inspect(f"mesos-{container_id}")
    assert found["HostConfig"]["NetworkMode"] in ("bridge", "default"), found["HostConfig"]
    address = found["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    bridge = (engine.root / "bridge").read_text().strip()
    assert address.startswith(f"10.213.{bridge.removeprefix('corral-br')}."), (address, bridge)
    # TASK_RUNNING reports the container's bridge address.
    reported = [ip for info in running["container_status"]["network_infos"]
                for ip in info.get("ip_addresses", [])]
    assert {"protocol": "IPv4", "ip_address": address} in reported, running["container_status"]

    def served():
        try:
            return requests.get(f"http://127.0.0.1:{host_port}/", timeout=2).text
        except requests.RequestException:
            return None
    wait_until(lambda: served() == "hello-bridge\n", scaled(20),
               f"the task's httpd through host port {host_port}")
    stream.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
    assert wait_terminal(stream, task_id, timeout=30)["state"] == "TASK_KILLED"


def restart_agent_with(cluster, env=None, kill_first=()):
    """kill -9 the agent (and the pids in `kill_first` while it is down), start it again with
    the same flags and work dir (and `env` on top of the cluster's agent env)."""
    old = cluster.agents[0]
    old.stopped_by_us = True
    os.killpg(old.pid, signal.SIGKILL)
    old.popen.wait(timeout=10)
    for pid in kill_first:
        os.kill(pid, signal.SIGKILL)
    agent_env = dict(cluster.agent_env)
    agent_env.update(env or {})
    new = CorralProcess("agent0-restarted", old.argv, cluster._env(agent_env),
                        cluster.log_dir, old.url)
    cluster.agents[0] = new
    cluster._wait_healthy(new)
    return new


def terminal_updates(stream, task_id):
    """The distinct terminal updates of `task_id` (a resent update has the same uuid)."""
    seen = {}
    for status in stream.updates(task_id):
        if status["state"] in TERMINAL:
            seen[(status["state"], status.get("uuid"))] = status
    return list(seen.values())


def checkpointing(cluster, name):
    return SchedulerStream(cluster.master_url, name=name,
                           framework_info={"checkpoint": True, "failover_timeout": 600.0})


def recovered_running(agent_url, task_id):
    for _fw, ex in agent_executors(get_json(agent_url, "/state")):
        if ex.get("id") == task_id:
            return any(t.get("state") == "TASK_RUNNING" for t in ex.get("tasks", []))
    return False


def assert_one_terminal(stream, task_id, states):
    status = wait_terminal(stream, task_id, timeout=45)
    assert status["state"] in states, status
    # Give a duplicate the time to show up (updates are retried quickly in the tests).
    time.sleep(scaled(3))
    terminals = terminal_updates(stream, task_id)
    assert len(terminals) == 1, terminals
    return status


def readopted_sleeper(stream, cluster):
    """A Docker task running `sleep`, whose agent was restarted and re-adopted it:
    (task id, container name)."""
    task_id = launch(stream, cmd="exec sleep 1000")
    stream.wait_state(task_id, "TASK_RUNNING")
    container_id, _sandbox = executor_of(cluster.agents[0].url, task_id)
    agent = restart_agent_with(cluster)
    wait_until(lambda: recovered_running(agent.url, task_id), scaled(30),
               "the recovered task in the agent's /state")
    return task_id, f"mesos-{container_id}"


@pytest.mark.deadline(180)
def test_readopted_executor_that_dies_leaves_no_container(engine, cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=docker_env(engine))
    with checkpointing(cluster, "e2e-docker-readopt-dies") as s:
        task_id, name = readopted_sleeper(s, cluster)
        assert engine.inspect(name)["State"]["Running"]
        pids = executor_pids(name)
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGKILL)
        assert_one_terminal(s, task_id, ("TASK_FAILED", "TASK_LOST"))
        wait_until(lambda: engine.inspect(name) is None, scaled(15),
                   f"the agent to remove {name} after its re-adopted executor died")


@pytest.mark.deadline(180)
def test_readopted_container_that_exits_ends_its_task_once(engine, cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=docker_env(engine))
    with checkpointing(cluster, "e2e-docker-readopt-exits") as s:
        task_id, name = readopted_sleeper(s, cluster)
        engine.docker("kill", name)
        status = assert_one_terminal(s, task_id, ("TASK_FAILED",))
        assert "137" in status.get("message", ""), status
        wait_until(lambda: engine.inspect(name) is None, scaled(15), f"{name} to be removed")


@pytest.mark.deadline(180)
def test_executor_dead_while_the_agent_was_down(engine, cluster_factory):
    cluster = cluster_factory(agents=1, agent_env=docker_env(engine))
    with checkpointing(cluster, "e2e-docker-dead-while-down") as s:
        task_id = launch(s, cmd="exec sleep 1000")
        s.wait_state(task_id, "TASK_RUNNING")
        container_id, _sandbox = executor_of(cluster.agents[0].url, task_id)
        name = f"mesos-{container_id}"
        pids = executor_pids(name)
        assert len(pids) == 1, pids
        restart_agent_with(cluster, kill_first=pids)
        # The executor is gone, its container still ran: the agent removes it...
        wait_until(lambda: engine.inspect(name) is None, scaled(20),
                   f"the agent to remove {name} of an executor that died while it was down")
        # ... and reports the task once.
        assert_one_terminal(s, task_id, ("TASK_FAILED", "TASK_LOST"))


def run_labelled(engine, name, agent_id=None):
    args = ["run", "-d", "--name", name, "--network", "none"]
    if agent_id is not None:
        args += ["--label", f"corral.mesos.agent_id={agent_id}"]
    engine.docker(*args, IMAGE, "sleep", "1000")
    return name


@pytest.mark.deadline(180)
@pytest.mark.parametrize("kill_orphans", [True, False])
def test_docker_kill_orphans(engine, cluster_factory, kill_orphans):
    cluster = cluster_factory(agents=1, agent_env=docker_env(engine))
    tag = uuid.uuid4().hex[:8]
    with checkpointing(cluster, "e2e-docker-orphans") as s:
        task_id = launch(s, cmd="exec sleep 1000")
        s.wait_state(task_id, "TASK_RUNNING")
        agent_url = cluster.agents[0].url
        agent_id = get_json(agent_url, "/state")["id"]
        container_id, _sandbox = executor_of(agent_url, task_id)
        live = f"mesos-{container_id}"
        ours = run_labelled(engine, f"mesos-orphan-{tag}", agent_id)
        legacy = run_labelled(engine, f"mesos-{agent_id}.legacy-{tag}")
        theirs = run_labelled(engine, f"mesos-other-{tag}", f"{agent_id}-not")
        unlabelled = run_labelled(engine, f"mesos-unlabelled-{tag}")
        plain = run_labelled(engine, f"plain-{tag}", agent_id)
        try:
            agent = restart_agent_with(
                cluster, env={"MESOS_DOCKER_KILL_ORPHANS": str(kill_orphans).lower()})
            wait_until(lambda: recovered_running(agent.url, task_id), scaled(30),
                       "the recovered task in the agent's /state")
            if kill_orphans:
                for name in (ours, legacy):
                    wait_until(lambda n=name: engine.inspect(n) is None, scaled(15),
                               f"the orphan {name} to be removed")
            else:
                for name in (ours, legacy):
                    assert engine.inspect(name)["State"]["Running"], name
            # Never touched: the re-adopted run's container, another agent's, unlabelled and
            # non-Mesos containers.
            for name in (live, theirs, unlabelled, plain):
                found = engine.inspect(name)
                assert found is not None and found["State"]["Running"], name
            s.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id}}})
            assert wait_terminal(s, task_id, timeout=30)["state"] == "TASK_KILLED"
        finally:
            for name in (ours, legacy, theirs, unlabelled, plain):
                engine.docker("rm", "-f", name, check=False)
