"""HA masters elected through a real 3-node ZooKeeper ensemble (issue 5).

Three `corral master --zk=zk://.../mesos --zk_session_timeout=4secs` processes and an agent
started with `--master=zk://.../mesos`, all real processes on loopback:

* M2: SIGKILL the leader -> exactly one new leader serves within the bound; standbys answer
  307 with the new leader's Location; the agent re-registers with it. Prints the measured
  "leader loss -> new leader serving" time.
* M3: SIGSTOP the leader for 3x the session timeout, SIGCONT -> a new leader was elected
  meanwhile and the old process exits on its own (fail-stop) without acting again.
* pymesos and mesoshttp given the zk:// URL keep working across a leader change.
* kazoo reads the json.info_ nodes: MasterInfo JSON with address.ip/port and pid.

Skipped with a message when Java or the Debian `zookeeper` package is missing.
"""

import datetime
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import REPO, CorralProcess, free_port, kill_strays
from helpers import (TERMINAL_STATES, command_task, offer_scalar, scaled, stop_pymesos_driver,
                     wait_until)

SESSION_SECS = 4
ZK_PATH = "/mesos"          # mesoshttp hard-codes /mesos
FAILOVER_BOUND = 15         # seconds from leader loss to a new leader serving (session 4 s)
ZK_SCRIPT = REPO / "scripts" / "zk-ensemble.sh"


# ------------------------------------------------------------ ZooKeeper ----

class _ScriptEnsemble:
    """A 3-node ensemble run by scripts/zk-ensemble.sh (used when tests/e2e/zookeeper.py's
    ZkEnsemble is not available)."""

    def __init__(self, base_dir):
        self.dir = Path(base_dir)
        out = subprocess.run(["bash", str(ZK_SCRIPT), "start", str(self.dir), "3", "auto"],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"zk-ensemble.sh start failed:\n{out.stderr[-3000:]}")
        self.connect_string = out.stdout.strip().splitlines()[-1]

    def node(self, action, i):
        """`kill` / `restart` node i (1-based)."""
        out = subprocess.run(["bash", str(ZK_SCRIPT), action, str(self.dir), str(i)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]

    def stop(self):
        subprocess.run(["bash", str(ZK_SCRIPT), "stop", str(self.dir)],
                       capture_output=True, timeout=60)


def _zookeeper_missing():
    if not shutil.which("java"):
        return "java is not installed (apt-get install -y zookeeper)"
    if not Path("/usr/share/java/zookeeper.jar").exists():
        return "ZooKeeper is not installed (apt-get install -y zookeeper)"
    return None


@pytest.fixture(scope="module")
def ha_zk_ensemble(tmp_path_factory):
    """A running 3-node ensemble (scripts/zk-ensemble.sh)."""
    missing = _zookeeper_missing()
    if missing:
        pytest.skip(f"HA tests need ZooKeeper: {missing}")
    ensemble = _ScriptEnsemble(tmp_path_factory.mktemp("zk"))
    try:
        yield ensemble
    finally:
        ensemble.stop()


@pytest.fixture
def zk(ha_zk_ensemble):
    """Connect string of the running 3-node ensemble."""
    return ha_zk_ensemble.connect_string


def kazoo_client(connect_string):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=connect_string, timeout=10)
    client.start(timeout=15)
    return client


# ------------------------------------------------------------ HA cluster ----

class HaCluster:
    """Three masters contending through ZooKeeper and `agents` agents following the leader."""

    def __init__(self, corral_bin, base_dir, connect_string, masters=3, agents=1):
        self.bin = str(corral_bin)
        self.base = Path(base_dir)
        self.log_dir = self.base / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.connect_string = connect_string
        self.zk_url = f"zk://{connect_string}{ZK_PATH}"
        self.n_masters, self.n_agents = masters, agents
        self.masters, self.agents = [], []

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MESOS_", "LIBPROCESS_", "CORRAL_HEARTBEAT"))}
        env.update({"RUST_LOG": "info", "NO_COLOR": "1", "RUST_BACKTRACE": "1",
                    "CORRAL_HEARTBEAT_SECS": "1"})
        return env

    def start(self):
        # A clean election path (and registry) for this cluster.
        client = kazoo_client(self.connect_string)
        try:
            client.delete(ZK_PATH, recursive=True)
        except Exception:  # noqa: BLE001 - absent is fine
            pass
        finally:
            client.stop()
            client.close()
        for i in range(self.n_masters):
            port = free_port()
            work = self.base / f"master{i}"
            work.mkdir()
            proc = CorralProcess(
                f"master{i}",
                [self.bin, "master", "--ip", "127.0.0.1", "--port", str(port),
                 "--work_dir", str(work), "--zk", self.zk_url,
                 "--zk_session_timeout", f"{SESSION_SECS}secs", "--quorum", "2"],
                self.env(), self.log_dir, f"http://127.0.0.1:{port}")
            proc.port = port
            self.masters.append(proc)
            self.wait_healthy(proc)
            if i == 0:  # the first one leads: a deterministic start
                wait_until(lambda: self.serving_leaders() == [proc], 30, "master0 leading")
        for i in range(self.n_agents):
            port = free_port()
            work = self.base / f"agent{i}"
            work.mkdir()
            agent = CorralProcess(
                f"agent{i}",
                [self.bin, "agent", "--ip", "127.0.0.1", "--port", str(port),
                 "--master", self.zk_url, "--work_dir", str(work),
                 "--resources", "cpus:4;mem:4096;disk:10000"],
                self.env(), self.log_dir, f"http://127.0.0.1:{port}")
            self.agents.append(agent)
            self.wait_healthy(agent)
        if self.n_agents:
            self.wait_agents_active(self.leader(), 30)
        return self

    @staticmethod
    def wait_healthy(proc):
        def healthy():
            assert proc.alive(), f"{proc.name} exited\n{proc.tail()}"
            try:
                return requests.get(proc.url + "/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_until(healthy, 30, f"{proc.name} healthy")

    def alive_masters(self):
        return [m for m in self.masters if m.alive()]

    @staticmethod
    def scheduler_probe(master, timeout=5.0):
        """Status of an (invalid) scheduler call, without following redirects. The default
        timeout allows for a loaded 2-core CI machine (3 masters, an agent and 3 ZooKeeper
        JVMs); polls that may hit a SIGSTOPped master pass a short one."""
        try:
            resp = requests.post(master.url + "/api/v1/scheduler", data="{}", timeout=timeout,
                                 headers={"Content-Type": "application/json"},
                                 allow_redirects=False)
            return resp.status_code, resp.headers.get("Location")
        except requests.RequestException:
            return None, None

    def serving_leaders(self, timeout=5.0):
        """Masters answering scheduler calls themselves (400 for the empty call)."""
        return [m for m in self.alive_masters() if self.scheduler_probe(m, timeout)[0] == 400]

    def leader(self):
        leaders = self.serving_leaders()
        assert len(leaders) == 1, f"expected one serving leader, got {[m.name for m in leaders]}"
        return leaders[0]

    def wait_new_leader(self, old, timeout):
        def one_new():
            # Short probes: the old leader may be SIGSTOPped, and this poll times the failover.
            leaders = self.serving_leaders(timeout=1.0)
            return leaders[0] if len(leaders) == 1 and leaders[0] is not old else None
        return wait_until(one_new, timeout, "exactly one new serving leader", interval=0.05)

    def wait_agents_active(self, leader, timeout):
        def active():
            slaves = requests.get(leader.url + "/slaves", timeout=5).json()["slaves"]
            return len([s for s in slaves if s.get("active")]) >= self.n_agents and slaves
        return wait_until(active, timeout, f"{self.n_agents} agent(s) active at {leader.name}")

    def logs(self):
        return "\n\n".join(p.tail() for p in self.masters + self.agents)

    def stop(self):
        problems = []
        for proc in reversed(self.masters + self.agents):
            if not proc.stopped_by_us and not proc.alive():
                problems.append(f"{proc.name} exited unexpectedly ({proc.popen.returncode})\n"
                                f"{proc.tail()}")
            if not proc.stopped_by_us:
                proc.stop()
        kill_strays(self.base)
        return problems


@pytest.fixture
def ha_cluster(corral_bin, zk, tmp_path_factory):
    clusters = []

    def start(**opts):
        cluster = HaCluster(corral_bin, tmp_path_factory.mktemp("ha"), zk, **opts)
        clusters.append(cluster)
        return cluster.start()

    yield start
    problems = []
    for cluster in clusters:
        problems += cluster.stop()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def host_port(master):
    return f"127.0.0.1:{master.port}"


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def log_lines_since(proc, since):
    """Lines of the process's logs stamped at or after `since` (tracing's RFC 3339 stamps)."""
    out = []
    for path in (proc.stdout_path, proc.stderr_path):
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
            if not m:
                continue
            stamp = datetime.datetime.fromisoformat(m.group(1)[:26]).replace(
                tzinfo=datetime.timezone.utc)
            if stamp >= since:
                out.append(line)
    return out


# ----------------------------------------------------------------- tests ----

@pytest.mark.deadline(180)
def test_m2_leader_killed_new_leader_serves_and_agent_follows(ha_cluster):
    cluster = ha_cluster(agents=1)
    leader = cluster.leader()
    standbys = [m for m in cluster.masters if m is not leader]
    agent_id = cluster.wait_agents_active(leader, 10)[0]["id"]

    # Standbys: 307 to the leader for scheduler calls and /redirect, /state names the leader.
    leader_state = requests.get(leader.url + "/state", timeout=5).json()
    for standby in standbys:
        status, location = cluster.scheduler_probe(standby)
        assert (status, location) == (307, f"//{host_port(leader)}/master/api/v1/scheduler"), \
            cluster.logs()
        resp = requests.get(standby.url + "/redirect", allow_redirects=False, timeout=5)
        assert resp.status_code == 307 and resp.headers["Location"] == f"//{host_port(leader)}"
        resp = requests.get(standby.url + "/master/state", timeout=5)
        assert resp.status_code == 200
        state = resp.json()
        assert state["leader"] == leader_state["pid"] == f"master@{host_port(leader)}"
        assert state["leader_info"]["port"] == leader.port
        assert state["frameworks"] == [] and state["slaves"] == []
        assert "elected_time" not in state
        assert requests.get(standby.url + "/health", timeout=5).status_code == 200
        assert requests.get(standby.url + "/master/metrics/snapshot",
                            timeout=5).json()["master/elected"] == 0

    # Kill -9 the leader and time until exactly one other master serves.
    killed_at = time.monotonic()
    leader.stopped_by_us = True
    os.killpg(leader.pid, signal.SIGKILL)
    leader.popen.wait(timeout=10)
    new_leader = cluster.wait_new_leader(leader, FAILOVER_BOUND)
    failover = time.monotonic() - killed_at
    print(f"\n[ha] leader loss -> new leader serving: {failover:.2f}s "
          f"(zk_session_timeout {SESSION_SECS}s)")
    assert failover <= scaled(FAILOVER_BOUND)

    # Exactly one leader; the remaining standby redirects to it.
    for _ in range(10):
        assert cluster.serving_leaders() == [new_leader]
        time.sleep(0.1)
    other = [m for m in cluster.alive_masters() if m is not new_leader]
    assert len(other) == 1
    def redirects_to_new():
        return cluster.scheduler_probe(other[0]) == (
            307, f"//{host_port(new_leader)}/master/api/v1/scheduler")
    wait_until(redirects_to_new, 10, "the standby redirecting to the new leader")

    # The agent re-registers with the new leader, under its id.
    slaves = cluster.wait_agents_active(new_leader, 30)
    assert [s["id"] for s in slaves if s.get("active")] == [agent_id]
    agent_log = cluster.agents[0].stderr_path.read_text() + cluster.agents[0].stdout_path.read_text()
    assert f"127.0.0.1:{new_leader.port}" in agent_log


@pytest.mark.deadline(180)
def test_m3_stopped_leader_is_replaced_and_exits_on_resume(ha_cluster):
    cluster = ha_cluster(agents=1)
    leader = cluster.leader()
    agent = cluster.agents[0]
    os.killpg(leader.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        new_leader = cluster.wait_new_leader(leader, FAILOVER_BOUND)
        print(f"\n[ha] stopped leader -> new leader serving: {time.monotonic() - stopped_at:.2f}s")
        cluster.wait_agents_active(new_leader, 30)
        time.sleep(max(0.0, 3 * SESSION_SECS - (time.monotonic() - stopped_at)))
    finally:
        resumed = utc_now()
        leader.stopped_by_us = True
        os.killpg(leader.pid, signal.SIGCONT)
    # The old leader notices it cannot have kept its session and exits by itself.
    code = leader.popen.wait(timeout=scaled(10))
    assert code == 1, leader.tail()
    tail = leader.tail()
    assert "lost leadership" in tail, tail
    after = log_lines_since(leader, resumed)
    acted = [line for line in after
             if "lost leadership" not in line and "leadership lost" not in line
             and ("subscribed" in line or "registered" in line or "offer" in line.lower())]
    assert not acted, "the deposed master acted after resuming:\n" + "\n".join(acted)

    # Still exactly one leader (the new one); the agent stays with it and never saw a message
    # from the deposed master.
    assert cluster.serving_leaders() == [new_leader]
    cluster.wait_agents_active(new_leader, 10)
    agent_log = agent.stdout_path.read_text() + agent.stderr_path.read_text()
    assert agent_log.count("dropping a message from a deposed master") == 0, agent.tail()


def test_kazoo_reads_mesos_master_info_nodes(ha_cluster):
    cluster = ha_cluster(agents=0)
    leader = cluster.leader()
    client = kazoo_client(cluster.connect_string)
    try:
        children = client.get_children(ZK_PATH)
        nodes = sorted(c for c in children if c.startswith("json.info_"))
        assert len(nodes) == 3, children
        assert not [c for c in children if c.startswith("info_")], children
        infos = []
        for node in nodes:
            assert re.fullmatch(r"json\.info_\d{10}", node), node
            data, stat = client.get(f"{ZK_PATH}/{node}")
            assert stat.ephemeralOwner != 0, f"{node} must be ephemeral"
            info = json.loads(data)
            assert info["address"]["ip"] == "127.0.0.1"
            assert isinstance(info["address"]["port"], int)
            assert info["pid"] == f"master@127.0.0.1:{info['address']['port']}"
            assert info["ip"] == 16777343 and info["port"] == info["address"]["port"]
            assert info["id"] and info["version"]
            infos.append(info)
        # pymesos picks min(children): the leader.
        assert infos[0]["address"]["port"] == leader.port
    finally:
        client.stop()
        client.close()


def _scheduler_base():
    from pymesos import Scheduler
    return Scheduler


class OneByOne(_scheduler_base()):
    """A pymesos scheduler launching queued tasks, one per offer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue = []
        self.states = {}
        self.subscriptions = 0

    def registered(self, driver, framework_id, master_info):
        with self.lock:
            self.subscriptions += 1

    def reregistered(self, driver, master_info):
        with self.lock:
            self.subscriptions += 1

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.lock:
                task_id = self.queue.pop(0) if self.queue and offer_scalar(offer, "cpus") >= 0.1 else None
            if task_id:
                driver.launchTasks(offer["id"], [command_task(offer["agent_id"], "echo ha",
                                                              name="e2e-ha", task_id=task_id)],
                                   {"refuse_seconds": 0.0})
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 1.0})

    def statusUpdate(self, driver, status):
        with self.lock:
            self.states[status["task_id"]["value"]] = status["state"]

    def state_of(self, task_id):
        with self.lock:
            return self.states.get(task_id)


def run_pymesos_task(driver, sched, timeout):
    task_id = f"ha-pymesos-{uuid.uuid4()}"
    with sched.lock:
        sched.queue.append(task_id)
    driver.reviveOffers()
    wait_until(lambda: sched.state_of(task_id) in TERMINAL_STATES, timeout,
               lambda: f"pymesos task {task_id} terminal (seen {sched.state_of(task_id)})")
    assert sched.state_of(task_id) == "TASK_FINISHED"


@pytest.mark.deadline(240)
def test_pymesos_and_mesoshttp_follow_the_leader_through_zookeeper(ha_cluster, monkeypatch):
    from mesoshttp.client import MesosClient
    from pymesos import MesosSchedulerDriver

    cluster = ha_cluster(agents=1)
    leader = cluster.leader()

    # pymesos: zk:// URL, kazoo-based detection.
    sched = OneByOne()
    driver = MesosSchedulerDriver(
        sched, {"user": getpass.getuser(), "name": "e2e-ha-pymesos", "failover_timeout": 120.0},
        cluster.zk_url, implicit_acknowledgements=True)
    driver.start()

    # mesoshttp: zk:// URL (first json child, then 307s); shorter reconnect wait.
    monkeypatch.setattr(MesosClient, "WAIT_TIME", 1)
    mh = MesosClient(mesos_urls=[cluster.zk_url], frameworkName="e2e-ha-mesoshttp",
                     frameworkUser=getpass.getuser(), max_reconnect=20)
    mh.set_failover_timeout(120.0)
    mh_lock = threading.Lock()
    mh_queue, mh_states = [], {}

    def on_offers(offers):
        for offer in offers:
            info = offer.get_offer()
            with mh_lock:
                task_id = mh_queue.pop(0) if mh_queue else None
            if task_id:
                offer.accept([command_task(info["agent_id"]["value"], "echo ha",
                                           name="e2e-ha-mh", task_id=task_id)])
            else:
                offer.decline({"filters": {"refuse_seconds": 1.0}})

    def on_update(update):
        status = update["status"]
        with mh_lock:
            mh_states[status["task_id"]["value"]] = status["state"]

    mh.on(MesosClient.OFFERS, on_offers)
    mh.on(MesosClient.UPDATE, on_update)
    mh_thread = threading.Thread(target=mh.register, name="mesoshttp", daemon=True)
    mh_thread.start()

    def run_mesoshttp_task(timeout):
        task_id = f"ha-mesoshttp-{uuid.uuid4()}"
        with mh_lock:
            mh_queue.append(task_id)
        def done():
            assert mh_thread.is_alive(), "mesoshttp gave up"
            with mh_lock:
                return mh_states.get(task_id) in TERMINAL_STATES and mh_states[task_id]
        state = wait_until(done, timeout, f"mesoshttp task {task_id} terminal")
        assert state == "TASK_FINISHED"

    try:
        # pymesos refuses calls (assert framework_id) until SUBSCRIBED.
        wait_until(lambda: sched.subscriptions >= 1, 30, "pymesos subscribed")
        run_pymesos_task(driver, sched, 60)
        run_mesoshttp_task(60)
        frameworks = {f["name"] for f in
                      requests.get(leader.url + "/frameworks", timeout=5).json()["frameworks"]}
        assert {"e2e-ha-pymesos", "e2e-ha-mesoshttp"} <= frameworks

        leader.stopped_by_us = True
        os.killpg(leader.pid, signal.SIGKILL)
        new_leader = cluster.wait_new_leader(leader, FAILOVER_BOUND)
        cluster.wait_agents_active(new_leader, 30)

        run_pymesos_task(driver, sched, 90)
        run_mesoshttp_task(90)
        frameworks = requests.get(new_leader.url + "/frameworks", timeout=5).json()["frameworks"]
        names = {f["name"] for f in frameworks if f.get("active", True)}
        assert {"e2e-ha-pymesos", "e2e-ha-mesoshttp"} <= names, frameworks
        assert sched.subscriptions >= 2
    finally:
        mh.stop = True
        stop_pymesos_driver(driver)


@pytest.mark.deadline(180)
def test_corral_run_follows_the_leader_through_zookeeper(ha_cluster, corral_bin):
    cluster = ha_cluster(agents=1)
    leader = cluster.leader()
    marker = f"ha-run-{uuid.uuid4()}"
    run = subprocess.Popen(
        [str(corral_bin), "run", "--verbose", "--master", cluster.zk_url, "--",
         f"sleep 6; echo {marker}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env())
    try:
        def task_running():
            assert run.poll() is None, run.communicate()
            tasks = requests.get(leader.url + "/tasks", timeout=5).json()["tasks"]
            return any(t["state"] == "TASK_RUNNING" for t in tasks)
        wait_until(task_running, 30, "the corral run task running")
        leader.stopped_by_us = True
        os.killpg(leader.pid, signal.SIGKILL)
        cluster.wait_new_leader(leader, FAILOVER_BOUND)
        out, err = run.communicate(timeout=scaled(60))
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}\n{cluster.logs()}"
    assert marker in out, f"stdout:\n{out}\nstderr:\n{err}"
    assert "following the new leader" in err, err


class BlackholeProxy:
    """A TCP relay to one ZooKeeper server that can be cut: once cut, bytes are neither relayed
    nor refused (connections stay open and silent), as in a network partition."""

    def __init__(self, target_port):
        import socket
        self.target = ("127.0.0.1", target_port)
        self.cut = threading.Event()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.cut.is_set():
                continue  # silent: accepted, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self.cut.is_set():  # hold the bytes: a partition, not a reset
                time.sleep(0.05)
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self):
        self.server.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


@pytest.mark.deadline(180)
def test_m4_leader_partitioned_from_zookeeper_stops_before_a_new_leader_serves(
        corral_bin, zk, tmp_path_factory):
    first_port = int(zk.split(",")[0].rsplit(":", 1)[1])
    proxy = BlackholeProxy(first_port)
    cluster = HaCluster(corral_bin, tmp_path_factory.mktemp("ha"), zk, masters=3, agents=0)
    # master0 reaches ZooKeeper only through the proxy; the others directly.
    direct_url = cluster.zk_url
    proxied_url = f"zk://127.0.0.1:{proxy.port}{ZK_PATH}"
    original_env = cluster.env
    try:
        client = kazoo_client(zk)
        try:
            client.delete(ZK_PATH, recursive=True)
        except Exception:  # noqa: BLE001 - absent is fine
            pass
        finally:
            client.stop()
            client.close()
        for i, url in enumerate([proxied_url, direct_url, direct_url]):
            port = free_port()
            work = cluster.base / f"master{i}"
            work.mkdir()
            proc = CorralProcess(
                f"master{i}",
                [cluster.bin, "master", "--ip", "127.0.0.1", "--port", str(port),
                 "--work_dir", str(work), "--zk", url,
                 "--zk_session_timeout", f"{SESSION_SECS}secs"],
                original_env(), cluster.log_dir, f"http://127.0.0.1:{port}")
            proc.port = port
            cluster.masters.append(proc)
            cluster.wait_healthy(proc)
            if i == 0:
                wait_until(lambda: cluster.serving_leaders() == [proc], 30, "master0 leading")
        leader = cluster.masters[0]
        assert cluster.serving_leaders() == [leader]

        cut_at = time.monotonic()
        proxy.cut.set()
        leader.stopped_by_us = True
        # The partitioned leader stops by itself...
        code = leader.popen.wait(timeout=scaled(SESSION_SECS * 3))
        exited_at = time.monotonic()
        assert code == 1 and "could not be confirmed" in leader.tail(), leader.tail()
        # ...before ZooKeeper could let another master win, and one does win afterwards.
        new_leader = cluster.wait_new_leader(leader, FAILOVER_BOUND)
        serving_at = time.monotonic()
        print(f"\n[ha] partitioned leader exited {exited_at - cut_at:.2f}s after the cut; "
              f"new leader serving {serving_at - cut_at:.2f}s after it")
        assert exited_at - cut_at < SESSION_SECS
        assert new_leader is not leader
    finally:
        problems = cluster.stop()
        proxy.close()
    assert not problems, "\n\n".join(problems)


@pytest.mark.deadline(180)
def test_z1_killing_one_zookeeper_server_keeps_a_single_leader(ha_cluster, ha_zk_ensemble):
    cluster = ha_cluster(agents=1)
    leader = cluster.leader()
    changes, last = 0, leader
    ha_zk_ensemble.node("kill", 1)
    try:
        deadline = time.monotonic() + 3 * SESSION_SECS
        while time.monotonic() < deadline:
            leaders = cluster.serving_leaders()
            assert len(leaders) <= 1, [m.name for m in leaders]
            if leaders and leaders[0] is not last:
                changes, last = changes + 1, leaders[0]
            time.sleep(0.1)
        final = cluster.wait_new_leader(None, FAILOVER_BOUND) if not cluster.serving_leaders() \
            else cluster.leader()
        if final is not last:
            changes += 1
        print(f"\n[ha] one ZooKeeper server killed: {changes} leader change(s)")
        assert changes <= 1
        if final is not leader:
            leader.stopped_by_us = True  # it stepped down (fail-stop) on its own
        cluster.wait_agents_active(final, 30)
    finally:
        ha_zk_ensemble.node("restart", 1)
