"""Agent <-> master network partitions, for real (reliability matrix P1, P2).

The agent runs in a network namespace of its own, joined to the host by a veth pair; the
master listens on the host side of the pair. The partition is two iptables DROP rules inside
the agent's namespace (everything from and to the master's address), so the TCP connections
stay up and simply go silent, as in a real partition. Short ping timers
(--agent_ping_timeout=1secs, --max_agent_ping_timeouts=3) make the master notice in ~4 s.

* P1(a): a partition shorter than the ping allowance changes nothing.
* P1(b)/P2: a longer one: the partition-aware framework's task becomes TASK_UNREACHABLE
  (SOURCE_MASTER, REASON_AGENT_REMOVED), the other framework's TASK_LOST, and the agent's
  resources are not offered. On heal the agent re-registers by itself and both tasks are
  RUNNING again per reconciliation, with the same PIDs: nothing was killed (Mesos >= 1.5).

Needs root, `ip` and `iptables` (installed with apt-get when missing); skipped otherwise.
"""

import os
import random
import shutil
import subprocess
import time
import uuid

import pytest
import requests

from conftest import AGENT_RESOURCES, CorralProcess, free_port, kill_strays
from helpers import command_task, get_json, wait_until
from mesos_raw import SchedulerStream

pytestmark = pytest.mark.deadline(200)

PING = "1secs"
MAX_PINGS = "3"
PA = [{"type": "PARTITION_AWARE"}]


def _have_tools():
    return shutil.which("ip") and shutil.which("iptables")


def _ensure_tools():
    if os.geteuid() != 0:
        pytest.skip("partition tests need root (network namespaces, iptables)")
    if not _have_tools():
        subprocess.run(["apt-get", "install", "-y", "-q", "iproute2", "iptables"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if not _have_tools():
        pytest.skip("partition tests need `ip` (iproute2) and `iptables`; "
                    "apt-get install iproute2 iptables")


def sh(*argv, check=True):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {result.returncode}: {result.stderr.strip()}")
    return result


class NetNs:
    """A namespace `name` with address `inner`, joined by veth to the host's `outer`."""

    def __init__(self):
        tag = f"{os.getpid() % 10000}{random.randint(0, 99):02d}"
        self.name = f"corral-p{tag}"
        self.host_if, self.ns_if = f"crh{tag}", f"crn{tag}"
        octet = random.randint(1, 250)
        self.outer, self.inner = f"10.251.{octet}.1", f"10.251.{octet}.2"
        self.rules = []

    def up(self):
        sh("ip", "netns", "add", self.name)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        sh("ip", "link", "set", self.ns_if, "netns", self.name)
        sh("ip", "addr", "add", f"{self.outer}/30", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        sh("ip", "-n", self.name, "addr", "add", f"{self.inner}/30", "dev", self.ns_if)
        sh("ip", "-n", self.name, "link", "set", self.ns_if, "up")
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        return self

    def exec_prefix(self):
        return ["ip", "netns", "exec", self.name]

    def partition(self):
        """Drop everything between the namespace and the master's address, both ways."""
        for rule in (["INPUT", "-s", self.outer], ["OUTPUT", "-d", self.outer]):
            sh(*self.exec_prefix(), "iptables", "-I", *rule, "-j", "DROP")
            self.rules.append(rule)

    def heal(self):
        while self.rules:
            rule = self.rules.pop()
            sh(*self.exec_prefix(), "iptables", "-D", *rule, "-j", "DROP", check=False)

    def down(self):
        self.heal()
        sh("ip", "netns", "del", self.name, check=False)
        sh("ip", "link", "del", self.host_if, check=False)


class PartitionCluster:
    def __init__(self, corral_bin, base, netns):
        self.bin, self.base, self.ns = str(corral_bin), base, netns
        self.log_dir = base / "logs"
        self.log_dir.mkdir(parents=True)
        self.master = self.agent = None

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
        env.update(RUST_LOG=os.environ.get("RUST_LOG", "info"), NO_COLOR="1",
                   CORRAL_HEARTBEAT_SECS="1", MESOS_STATUS_UPDATE_RETRY_INTERVAL="1secs")
        return env

    def start(self):
        port = free_port()
        (self.base / "master").mkdir()
        self.master_url = f"http://{self.ns.outer}:{port}"
        self.master = CorralProcess(
            "master", [self.bin, "master", "--ip", self.ns.outer, "--port", str(port),
                       "--work_dir", str(self.base / "master"),
                       "--agent_ping_timeout", PING, "--max_agent_ping_timeouts", MAX_PINGS],
            self.env(), self.log_dir, self.master_url)
        self._healthy(self.master)
        agent_port = free_port()
        (self.base / "agent").mkdir()
        self.agent = CorralProcess(
            "agent", self.ns.exec_prefix() + [
                self.bin, "agent", "--ip", self.ns.inner, "--port", str(agent_port),
                "--master", f"{self.ns.outer}:{port}", "--work_dir", str(self.base / "agent"),
                "--resources", AGENT_RESOURCES],
            self.env(), self.log_dir, f"http://{self.ns.inner}:{agent_port}")
        wait_until(lambda: self.active_agents(), 30, "the agent to register")
        return self

    def _healthy(self, proc):
        def ok():
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited\n{proc.tail()}")
            return requests.get(proc.url + "/health", timeout=2).status_code == 200
        wait_until(ok, 30, f"{proc.name} /health")

    def active_agents(self):
        return [s["id"] for s in get_json(self.master_url, "/slaves")["slaves"] if s.get("active")]

    def logs(self):
        return "\n\n".join(p.tail() for p in (self.master, self.agent) if p)

    def stop(self):
        for proc in (self.agent, self.master):
            if proc is not None:
                proc.stop()
        kill_strays(self.base)


@pytest.fixture
def partitioned(corral_bin, tmp_path):
    _ensure_tools()
    ns = NetNs()
    try:
        ns.up()
    except RuntimeError as exc:
        ns.down()
        pytest.skip(f"cannot set up a network namespace: {exc}")
    cluster = PartitionCluster(corral_bin, tmp_path / "cluster", ns)
    try:
        cluster.start()
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
        ns.down()


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def launch_sleeper(stream, tmp_path, name):
    offer = stream.next_offer()
    task_id = f"{name}-{uuid.uuid4()}"
    pid_file = tmp_path / f"{task_id}.pid"
    stream.launch(offer, [command_task(offer["agent_id"], f"echo $$ > {pid_file}; exec sleep 300",
                                       name=name, task_id=task_id)])
    stream.wait_state(task_id, "TASK_RUNNING")
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 30, "the task's pid")
    return task_id, int(pid_file.read_text().strip())


def reconcile_state(stream, task_id):
    start = len(stream.events)
    stream.checked_call({"type": "RECONCILE", "reconcile": {"tasks": [
        {"task_id": {"value": task_id}}]}})
    ev = stream.wait_event(lambda e: e["type"] == "UPDATE"
                           and e["update"]["status"]["task_id"]["value"] == task_id
                           and e["update"]["status"].get("reason") == "REASON_RECONCILIATION",
                           15, f"a reconciliation answer for {task_id}", start=start)
    return ev["update"]["status"]["state"]


def task_updates_since(stream, start):
    with stream._cond:
        return [e["update"]["status"] for e in stream.events[start:] if e["type"] == "UPDATE"]


def test_partition_then_heal_keeps_tasks_running(partitioned, tmp_path):
    cluster, ns = partitioned, partitioned.ns
    [agent_id] = cluster.active_agents()
    pa = SchedulerStream(cluster.master_url, name="p1-pa",
                         framework_info={"capabilities": PA, "failover_timeout": 300.0}).subscribe()
    legacy = SchedulerStream(cluster.master_url, name="p2-legacy",
                             framework_info={"failover_timeout": 300.0}).subscribe()
    try:
        pa_task, pa_pid = launch_sleeper(pa, tmp_path, "p1")
        legacy_task, legacy_pid = launch_sleeper(legacy, tmp_path, "p2")

        # (a) Shorter than the ping allowance (3 x 1 s): nothing happens.
        marks = (len(pa.events), len(legacy.events))
        ns.partition()
        time.sleep(1.0)
        ns.heal()
        time.sleep(3.0)
        assert task_updates_since(pa, marks[0]) == []
        assert task_updates_since(legacy, marks[1]) == []
        assert cluster.active_agents() == [agent_id]

        # (b) Longer: the master marks the agent unreachable.
        marks = (len(pa.events), len(legacy.events))
        started = time.monotonic()
        ns.partition()
        unreachable = pa.wait_update(pa_task, lambda s: s["state"] == "TASK_UNREACHABLE", 20,
                                     "TASK_UNREACHABLE")
        detected = time.monotonic() - started
        assert unreachable["source"] == "SOURCE_MASTER", unreachable
        assert unreachable["reason"] == "REASON_AGENT_REMOVED", unreachable
        assert "uuid" not in unreachable, unreachable
        lost = legacy.wait_update(legacy_task, lambda s: s["state"] == "TASK_LOST", 10, "TASK_LOST")
        assert lost["reason"] == "REASON_AGENT_REMOVED", lost
        unreachable_at = len(pa.events)
        assert cluster.active_agents() == []
        assert reconcile_state(pa, pa_task) == "TASK_UNREACHABLE"
        assert reconcile_state(legacy, legacy_task) == "TASK_LOST"
        # Its resources are not offered while it is unreachable.
        pa.checked_call({"type": "REVIVE"})
        time.sleep(3.0)
        with pa._cond:
            offered = [o for e in pa.events[unreachable_at:] if e["type"] == "OFFERS"
                       for o in e["offers"]["offers"] if o["agent_id"]["value"] == agent_id]
        assert offered == [], "the unreachable agent's resources were offered"
        assert pid_alive(pa_pid) and pid_alive(legacy_pid)

        # Heal: the agent re-registers by itself; nothing was killed.
        ns.heal()
        healed = time.monotonic()
        wait_until(lambda: cluster.active_agents() == [agent_id], 45,
                   "the agent to re-register after the partition healed")
        rejoined = time.monotonic() - healed
        assert reconcile_state(pa, pa_task) == "TASK_RUNNING"
        assert reconcile_state(legacy, legacy_task) == "TASK_RUNNING"
        assert pid_alive(pa_pid), "partition-aware task killed"
        assert pid_alive(legacy_pid), "non-partition-aware task killed"
        states = [s["state"] for s in task_updates_since(pa, marks[0])
                  if s["task_id"]["value"] == pa_task]
        assert "TASK_KILLED" not in states and "TASK_FAILED" not in states, states
        print(f"[p1] unreachable detected after {detected:.1f}s; "
              f"agent re-registered {rejoined:.1f}s after heal")
    finally:
        pa.close()
        legacy.close()
