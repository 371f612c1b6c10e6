"""Fixtures that run real `corral master` / `corral agent` processes on loopback.

* `cluster`: one master + N agents for one test; configure with
  `@pytest.mark.cluster(agents=2, heartbeat_secs=1, master_env={...}, agent_env={...})`.
* `cluster_factory` / `module_cluster_factory`: start clusters yourself
  (`start(agents=1, heartbeat_secs=None, ...)`), stopped at test / module end.
* `mesos_cli_config` / `mesos_cli`: avmesos-cli config file (MESOS_CLI_CONFIG)
  and a runner for `python -m avmesos.cli.mesos-cli`.

Processes run in their own process groups with stdout/stderr in files under
the test's temp dir; a failing test's report carries the tails. Teardown stops
the groups (SIGTERM, then SIGKILL) and kills any process still running in the
cluster's work dirs (executors and tasks live in sessions of their own).
A process that died during the test fails the test at teardown.

Every wait is bounded; `@pytest.mark.deadline(seconds)` caps setup and call
(default 240 s, scaled by CORRAL_E2E_TIMEOUT_SCALE).
"""

import atexit
import ctypes
import faulthandler
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import requests

from helpers import get_json, run_mesos_cli, scaled, wait_until

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "corral"
AGENT_RESOURCES = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"
DEFAULT_DEADLINE = 240
START_TIMEOUT = 30      # process up and /health 200
REGISTER_TIMEOUT = 30   # agents listed active in /slaves
STOP_GRACE = 5          # SIGTERM -> SIGKILL
LOG_TAIL_LINES = 60

_LIVE_CLUSTERS = []
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def pytest_configure(config):
    missing = []
    for module in ("pymesos", "mesoshttp", "avmesos.cli", "http_parser.http"):
        try:
            with warnings.catch_warnings():  # old clients: `imp`, invalid escapes
                warnings.simplefilter("ignore", DeprecationWarning)
                __import__(module)
        except Exception as exc:  # noqa: BLE001 - report every missing client
            missing.append(f"{module} ({exc!r})")
    if missing:
        raise pytest.UsageError(
            "e2e client packages missing: " + ", ".join(missing)
            + f"\nrun {REPO}/scripts/install-test-deps.sh and use {REPO}/.venv/bin/pytest")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """In CI every facility the tests need is installed by scripts/install-test-deps.sh, so a
    skipped test means a real part (ZooKeeper, Docker, cgroups, netns) silently went missing:
    make that a failure instead of a quiet pass."""
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI") and skipped:
        terminalreporter.write_line(
            f"CI: {len(skipped)} e2e test(s) skipped; in CI that is a failure:", red=True)
        for report in skipped:
            terminalreporter.write_line(f"  {report.nodeid}: {report.longrepr}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") and _count_skips(session) > 0:
        session.exitstatus = 1


def _count_skips(session):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    return len(reporter.stats.get("skipped", [])) if reporter else 0


# ------------------------------------------------------------- ports ----

_USED_PORTS = set()


def free_port():
    """A loopback port that is free now, below the ephemeral range, never reused in this run.

    Below 20000 too: scripts/zk-ensemble.sh places ZooKeeper nodes in 20000..31999, and a
    node's peer ports (or a stopped node's client port) are free while it still owns them."""
    for _ in range(200):
        port = random.randint(10000, 19999)
        if port in _USED_PORTS:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _USED_PORTS.add(port)
        return port
    raise RuntimeError("no free loopback port found")


# --------------------------------------------------------- processes ----

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _LIBC = None


def _child_setup():
    # Die with the test runner (PR_SET_PDEATHSIG = 1) even if it is SIGKILLed.
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)


class CorralProcess:
    """One `corral` daemon in its own process group, logging to files."""

    def __init__(self, name, argv, env, log_dir, url):
        self.name, self.argv, self.url = name, argv, url
        self.stdout_path = log_dir / f"{name}.stdout"
        self.stderr_path = log_dir / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                          env=env, start_new_session=True,
                                          preexec_fn=_child_setup)
        self.stopped_by_us = False
        self.shown_log_size = None

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log_size(self):
        return sum(p.stat().st_size for p in (self.stdout_path, self.stderr_path) if p.exists())

    def tail(self, lines=LOG_TAIL_LINES):
        parts = [f"$ {' '.join(self.argv)}  (pid {self.pid}, exit code {self.popen.poll()})"]
        for path in (self.stdout_path, self.stderr_path):
            try:
                text = _ANSI.sub("", path.read_text(errors="replace")).splitlines()[-lines:]
            except OSError as exc:
                text = [f"<{exc}>"]
            parts.append(f"--- {path.name} (last {lines} lines) ---")
            parts.extend(text)
        return "\n".join(parts)

    def stop(self):
        self.stopped_by_us = True
        for sig, wait in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # the group may outlive its leader
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_strays(root):
    """SIGKILL every process whose cwd or environment points into `root`.

    Executors and tasks run in sessions of their own (setsid), so killing the
    agent's group does not reach them; they all live in sandboxes under the
    agent work dir. Returns descriptions of what was killed.
    """
    root_s = str(root)
    root_b = root_s.encode()
    killed = []
    for _ in range(3):  # repeat: a dying parent may have forked meanwhile
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            pid = int(entry)
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
            except OSError:
                cwd = ""
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    environ = fh.read()
            except OSError:
                environ = b""
            if cwd.startswith(root_s) or root_b in environ:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
                    os.kill(pid, signal.SIGKILL)
                    killed.append(f"{pid}: {cmd}")
                    found = True
                except (OSError, ProcessLookupError):
                    pass
        if not found:
            break
        time.sleep(0.2)
    return killed


class Cluster:
    """A master and `agents` agents, each with its own port and work dir."""

    def __init__(self, corral_bin, base_dir, agents=1, heartbeat_secs=None,
                 master_env=None, agent_env=None, agent_resources=AGENT_RESOURCES):
        self.bin = str(corral_bin)
        self.base_dir = Path(base_dir)
        self.log_dir = self.base_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.n_agents = agents
        self.heartbeat_secs = heartbeat_secs
        self.master_env = master_env or {}
        self.agent_env = agent_env or {}
        self.agent_resources = agent_resources
        self.master = None
        self.agents = []
        self.master_port = None

    # -- start ----------------------------------------------------------------
    def _env(self, extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MESOS_", "LIBPROCESS_", "CORRAL_HEARTBEAT"))}
        env.setdefault("RUST_LOG", "info")
        env.setdefault("NO_COLOR", "1")  # plain log files
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(extra)
        return env

    def start(self):
        self.master_port = free_port()
        work = self.base_dir / "master"
        work.mkdir()
        menv = dict(self.master_env)
        if self.heartbeat_secs is not None:
            menv["CORRAL_HEARTBEAT_SECS"] = str(self.heartbeat_secs)
        self.master = CorralProcess(
            "master", [self.bin, "master", "--ip", "127.0.0.1", "--port", str(self.master_port),
                       "--work_dir", str(work)],
            self._env(menv), self.log_dir, f"http://127.0.0.1:{self.master_port}")
        self._wait_healthy(self.master)
        for i in range(self.n_agents):
            port = free_port()
            work = self.base_dir / f"agent{i}"
            work.mkdir()
            agent = CorralProcess(
                f"agent{i}", [self.bin, "agent", "--ip", "127.0.0.1", "--port", str(port),
                              "--master", f"127.0.0.1:{self.master_port}",
                              "--work_dir", str(work), "--resources", self.agent_resources],
                self._env(self.agent_env), self.log_dir, f"http://127.0.0.1:{port}")
            self.agents.append(agent)
            self._wait_healthy(agent)
        if self.n_agents:
            wait_until(self._all_agents_active, REGISTER_TIMEOUT,
                       f"{self.n_agents} active agent(s) in the master's /slaves")
        return self

    def _wait_healthy(self, proc):
        deadline = time.monotonic() + scaled(START_TIMEOUT)
        last = None
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"corral {proc.name} exited during startup\n{proc.tail()}")
            try:
                resp = requests.get(proc.url + "/health", timeout=2)
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"corral {proc.name} not healthy after {START_TIMEOUT}s "
                           f"(last: {last})\n{proc.tail()}")

    def _all_agents_active(self):
        for proc in self.procs:
            if not proc.alive():
                raise RuntimeError(f"corral {proc.name} exited\n{proc.tail()}")
        slaves = get_json(self.master_url, "/slaves")["slaves"]
        return len([s for s in slaves if s.get("active")]) >= self.n_agents

    # -- use ------------------------------------------------------------------
    @property
    def procs(self):
        return [p for p in [self.master, *self.agents] if p is not None]

    @property
    def master_url(self):
        return self.master.url

    @property
    def master_address(self):
        return f"127.0.0.1:{self.master_port}"

    @property
    def agent_urls(self):
        return [a.url for a in self.agents]

    def get(self, path, params=None, **kw):
        return requests.get(self.master_url + path, params=params, timeout=kw.pop("timeout", 10), **kw)

    def json(self, path, params=None):
        return get_json(self.master_url, path, params)

    def agent_ids(self):
        return [s["id"] for s in self.json("/slaves")["slaves"]]

    def logs(self):
        return "\n\n".join(p.tail() for p in self.procs)

    # -- stop -----------------------------------------------------------------
    def stop(self):
        """Stop everything; return a list of problems (processes that died on their own)."""
        problems = []
        for proc in reversed(self.procs):
            if not proc.stopped_by_us and not proc.alive():
                problems.append(f"corral {proc.name} exited unexpectedly with code "
                                f"{proc.popen.returncode} during the test\n{proc.tail()}")
            if not proc.stopped_by_us:
                proc.stop()
        strays = kill_strays(self.base_dir)
        if strays:
            print(f"[e2e] killed {len(strays)} leftover process(es) under {self.base_dir}:\n  "
                  + "\n  ".join(strays), file=sys.stderr)
        return problems


class ClusterPool:
    """Starts clusters on demand; stop_all() at the end of the owning scope."""

    def __init__(self, corral_bin, tmp_dir_factory):
        self.corral_bin = corral_bin
        self.tmp_dir_factory = tmp_dir_factory
        self.clusters = []

    def start(self, **opts):
        cluster = Cluster(self.corral_bin, self.tmp_dir_factory(), **opts)
        self.clusters.append(cluster)
        _LIVE_CLUSTERS.append(cluster)
        cluster.start()
        return cluster

    def stop_all(self):
        problems = []
        for cluster in self.clusters:
            problems += cluster.stop()
            if cluster in _LIVE_CLUSTERS:
                _LIVE_CLUSTERS.remove(cluster)
        self.clusters = []
        return problems


@atexit.register
def _stop_leftover_clusters():
    for cluster in list(_LIVE_CLUSTERS):
        cluster.stop()


# ----------------------------------------------------------- fixtures ----

@pytest.fixture(scope="session")
def corral_bin():
    path = Path(os.environ.get("CORRAL_BIN") or DEFAULT_BIN)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"corral binary not found at {path} "
                    "(build it with `cargo build`, or set CORRAL_BIN)", pytrace=False)
    return path


def _pool_fixture(corral_bin, factory):
    pool = ClusterPool(corral_bin, factory)
    try:
        yield pool.start
    finally:
        problems = pool.stop_all()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def cluster_factory(corral_bin, tmp_path_factory):
    yield from _pool_fixture(corral_bin, lambda: tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="module")
def module_cluster_factory(corral_bin, tmp_path_factory):
    yield from _pool_fixture(corral_bin, lambda: tmp_path_factory.mktemp("modcluster"))


@pytest.fixture
def cluster(request, cluster_factory):
    marker = request.node.get_closest_marker("cluster")
    return cluster_factory(**(marker.kwargs if marker else {}))


@pytest.fixture
def mesos_cli_config(cluster, tmp_path):
    """Path of an avmesos-cli TOML config pointing at `cluster` (for MESOS_CLI_CONFIG)."""
    path = tmp_path / "mesos-cli.toml"
    path.write_text(f'[master]\n  address = "{cluster.master_address}"\n')
    return path


@pytest.fixture
def mesos_cli(mesos_cli_config):
    """mesos_cli('task', 'list', '--all') -> CompletedProcess of the real CLI."""
    return lambda *args, timeout=60: run_mesos_cli(mesos_cli_config, *args, timeout=timeout)


# -------------------------------------------------------------- hooks ----

class DeadlineExceeded(Exception):
    pass


def _with_deadline(item, phase):
    marker = item.get_closest_marker("deadline")
    seconds = scaled(marker.args[0] if marker else DEFAULT_DEADLINE)

    def on_alarm(signum, frame):
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise DeadlineExceeded(f"{phase} of {item.nodeid} exceeded its deadline of {seconds:.0f}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return previous


def _clear_deadline(previous):
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    previous = _with_deadline(item, "setup")
    try:
        return (yield)
    finally:
        _clear_deadline(previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    previous = _with_deadline(item, "test")
    try:
        return (yield)
    finally:
        _clear_deadline(previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when in ("setup", "call"):
        for cluster in _LIVE_CLUSTERS:
            for proc in cluster.procs:
                # Only logs that grew since they were last shown (no repeats per module).
                size = proc.log_size()
                if size != proc.shown_log_size:
                    proc.shown_log_size = size
                    report.sections.append((f"corral {proc.name} ({cluster.base_dir.name})", proc.tail()))
    return report


# ---- ZooKeeper (issue 5) --------------------------------------------------------------------

@pytest.fixture(scope="session")
def zk_ensemble(tmp_path_factory):
    """One 3-node ZooKeeper ensemble for the whole session (tests/e2e/zookeeper.py): use
    `zk_ensemble.url("/some-unique-path")`. Skips the test if java or ZooKeeper is missing."""
    from zookeeper import ZkEnsemble
    missing = ZkEnsemble.missing()
    if missing:
        pytest.skip(f"needs ZooKeeper: {missing}")
    ensemble = ZkEnsemble(tmp_path_factory.mktemp("zk-ensemble"), n=3)
    try:
        ensemble.start()
        yield ensemble
    finally:
        ensemble.stop()
