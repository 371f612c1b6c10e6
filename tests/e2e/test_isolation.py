"""Misbehaving tasks on an agent with real isolation (reliability matrix T1, T2):
a real master and an agent started with
`--isolation cgroups/cpu,cgroups/mem,cgroups/pids`, driven by the raw scheduler.

* a memory balloon fails with REASON_CONTAINER_LIMITATION_MEMORY;
* a bounded fork bomb stays under the pids limit, the agent keeps answering,
  and killing the task leaves no process;
* killing a task whose command left its session (`setsid sleep 1000 &`)
  leaves no `sleep 1000`;
* `/monitor/statistics` reports CPU time and memory of a busy task.

Needs root and the cpu, memory and pids cgroup controllers (v1, v2 or hybrid);
otherwise the module is skipped with the reason. The agent's cgroups live
under a root of their own (`corral-e2e-<pid>`), removed after the module.
"""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from helpers import agent_executors, command_task, get_json, scaled, wait_until
from mesos_raw import SchedulerStream

ISOLATION = "cgroups/cpu,cgroups/mem,cgroups/pids"
PIDS_LIMIT = 64
MiB = 1024 * 1024
# The agent adds the command executor's overhead (Mesos: 0.1 cpus, 32 MB) to a command task.
EXECUTOR_CPUS, EXECUTOR_MEM = 0.1, 32


# ------------------------------------------------------------- host ----

def _cgroup_mounts():
    """(v1 {controller: mount}, v2 mount or None) from /proc/self/mounts."""
    v1, v2 = {}, None
    with open("/proc/self/mounts") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 4:
                continue
            target, fstype, options = fields[1], fields[2], fields[3].split(",")
            if fstype == "cgroup2" and v2 is None:
                v2 = target
            elif fstype == "cgroup":
                for option in options:
                    v1.setdefault(option, target)
    return v1, v2


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root to create cgroups"
    try:
        v1, v2 = _cgroup_mounts()
    except OSError as exc:
        return f"cannot read /proc/self/mounts: {exc}"
    wanted = ("cpu", "memory", "pids")
    if v1:
        missing = [c for c in wanted if c not in v1]
    elif v2:
        try:
            offered = Path(v2, "cgroup.controllers").read_text().split()
        except OSError:
            offered = []
        missing = [c for c in wanted if c not in offered]
    else:
        return "no cgroup hierarchy mounted"
    return f"cgroup controllers missing: {missing}" if missing else None


_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"isolation e2e: {_REASON}")


def _cgroup_root_dirs(name):
    v1, v2 = _cgroup_mounts()
    dirs = {Path(mount, name) for mount in v1.values()}
    if v2:
        dirs.add(Path(v2, name))
    return sorted(dirs)


def _remove_cgroup_tree(path):
    """Kill whatever is left in a cgroup tree and remove it, children first."""
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir():
            _remove_cgroup_tree(child)
    for _ in range(50):
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


# ---------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def cgroups_root():
    """The agent's --cgroups_root; everything under it is removed after the module
    (this fixture is set up before the cluster, so it is torn down after it)."""
    name = f"corral-e2e-{os.getpid()}"
    yield name
    for path in _cgroup_root_dirs(name):
        _remove_cgroup_tree(path)


@pytest.fixture(scope="module")
def iso_cluster(cgroups_root, module_cluster_factory):
    return module_cluster_factory(agents=1, agent_env={
        "MESOS_ISOLATION": ISOLATION,
        "MESOS_CGROUPS_ROOT": cgroups_root,
        "MESOS_DEFAULT_CONTAINER_PIDS_LIMIT": str(PIDS_LIMIT),
    })


@pytest.fixture
def agent(iso_cluster):
    """The agent's URL; it must still run after each test."""
    proc = iso_cluster.agents[0]
    assert proc.alive(), f"the agent died in an earlier test\n{proc.tail()}"
    yield proc.url
    assert proc.alive(), f"the agent died during the test\n{proc.tail()}"
    assert requests.get(proc.url + "/health", timeout=5).status_code == 200


@pytest.fixture
def stream(iso_cluster, agent):
    s = SchedulerStream(iso_cluster.master_url, name="e2e-isolation").subscribe()
    yield s
    s.close()  # TEARDOWN: the master kills whatever the test left running


# ----------------------------------------------------------- helpers ----

def launch(stream, cmd, cpus=0.1, mem=32):
    """Launch one command task; return its id."""
    offer = stream.next_offer()
    task_id = f"iso-{uuid.uuid4()}"
    stream.launch(offer, [command_task(offer["agent_id"], cmd, name="iso", task_id=task_id,
                                       cpus=cpus, mem=mem)])
    return task_id


def container_of(agent_url, task_id):
    """(container id, sandbox) of the executor that runs `task_id` (command executor)."""
    for _fw, ex in agent_executors(get_json(agent_url, "/state")):
        if ex.get("id") == task_id and ex.get("container"):
            return ex["container"], ex["directory"]
    return None


def processes_of(container_id, sandbox):
    """{pid: cmdline} of live processes whose cgroup names the container or whose
    environment points at its sandbox."""
    found = {}
    needles = (container_id.encode(), sandbox.encode())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                if fh.read().rsplit(b") ", 1)[-1][:1] == b"Z":
                    continue  # a zombie waiting to be reaped runs nothing
            with open(f"/proc/{entry}/cgroup", "rb") as fh:
                cgroup = fh.read()
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        if any(n in cgroup or n in environ for n in needles):
            found[int(entry)] = cmdline
    return found


def wait_no_processes(container_id, sandbox, timeout=15):
    last = {}

    def gone():
        nonlocal last
        last = processes_of(container_id, sandbox)
        return not last

    wait_until(gone, timeout, lambda: f"no process left of container {container_id} "
                                      f"(still there: {last})")


def wait_terminal(stream, task_id, timeout=60):
    return stream.wait_update(task_id, lambda s: s["state"] in (
        "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
        "TASK_DROPPED", "TASK_GONE"), timeout, "a terminal state")


def kill(stream, task_id, agent_id):
    stream.checked_call({"type": "KILL", "kill": {"task_id": {"value": task_id},
                                                  "agent_id": agent_id}})


def agent_id_of(stream, task_id):
    status = stream.wait_update(task_id, lambda s: "agent_id" in s, 30, "an update")
    return status["agent_id"]


def timed_get(url, timeout=5):
    started = time.monotonic()
    resp = requests.get(url, timeout=timeout)
    return resp.status_code, time.monotonic() - started


# ------------------------------------------------------------- tests ----

@pytest.mark.deadline(120)
def test_memory_balloon_fails_with_the_memory_limitation(stream, agent, iso_cluster):
    agent_pid = iso_cluster.agents[0].pid
    # tail keeps the endless line of /dev/zero in memory; the limit is 32 MB + 32 MB.
    task_id = launch(stream, "exec tail /dev/zero", cpus=0.1, mem=32)
    status = wait_terminal(stream, task_id, timeout=60)
    assert status["state"] == "TASK_FAILED", status
    assert status.get("reason") == "REASON_CONTAINER_LIMITATION_MEMORY", status
    assert status.get("source") == "SOURCE_AGENT", status
    message = status.get("message", "")
    assert "Memory limit exceeded" in message, status
    assert f"Requested: {32 + EXECUTOR_MEM}MB" in message, status
    assert "Maximum Used: " in message, status
    resources = status.get("limitation", {}).get("resources", [])
    assert [r["name"] for r in resources] == ["mem"], status
    # The agent survived (same process), and the container is gone.
    assert iso_cluster.agents[0].alive() and iso_cluster.agents[0].pid == agent_pid
    found = container_of(agent, task_id)
    assert found, "the agent does not show the executor of the failed task"
    wait_no_processes(*found)


@pytest.mark.deadline(150)
def test_fork_bomb_is_contained_and_killed(stream, agent):
    # A bounded bomb: each shell forks two more down to depth 8 (511 processes without
    # a limit), and every one of them stays alive as a sleep. At the limit forks fail
    # and the failing shells exit; the task's main process (exec sleep) stays.
    bomb = ('b() { if [ "$1" -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & fi; exec sleep 300; }; '
            '(b 8) & exec sleep 300')
    task_id = launch(stream, bomb, cpus=0.2, mem=128)
    agent_id = agent_id_of(stream, task_id)
    stream.wait_state(task_id, "TASK_RUNNING", timeout=60)
    found = wait_until(lambda: container_of(agent, task_id), 30, "the bomb's container")
    container_id, sandbox = found

    # The bomb hits the limit; meanwhile the agent answers quickly.
    peak_procs, peak_tasks, slow = 0, 0, []
    deadline = time.monotonic() + scaled(8)
    while time.monotonic() < deadline:
        for path in ("/health", "/state", "/monitor/statistics"):
            code, took = timed_get(agent + path)
            assert code == 200, path
            # 2 s: well above a scheduling hiccup on a loaded 2-core CI machine, far below
            # an agent blocked by the bomb.
            if took > 2.0:
                slow.append((path, round(took, 2)))
        peak_procs = max(peak_procs, len(processes_of(container_id, sandbox)))
        for entry in get_json(agent, "/monitor/statistics"):
            if entry["executor_id"] == task_id:
                # pids.current: processes, threads and unreaped zombies of the container.
                peak_tasks = max(peak_tasks, entry["statistics"].get("threads", 0))
        time.sleep(0.2)
    assert peak_procs > 8, f"the bomb never grew (peak {peak_procs} processes)"
    assert PIDS_LIMIT - 4 <= peak_tasks <= PIDS_LIMIT, \
        f"{peak_tasks} tasks (processes + threads) in a container limited to {PIDS_LIMIT}"
    assert peak_procs <= PIDS_LIMIT, f"{peak_procs} processes, limit {PIDS_LIMIT}"
    assert len(slow) <= 1, f"agent answered slowly during the bomb: {slow}"

    kill(stream, task_id, agent_id)
    status = wait_terminal(stream, task_id, timeout=60)
    assert status["state"] == "TASK_KILLED", status
    wait_no_processes(container_id, sandbox, timeout=30)


@pytest.mark.deadline(120)
def test_kill_leaves_no_process_that_left_the_session(stream, agent):
    task_id = launch(stream, "setsid sleep 1000 & exec sleep 1000", cpus=0.1, mem=32)
    agent_id = agent_id_of(stream, task_id)
    stream.wait_state(task_id, "TASK_RUNNING", timeout=60)
    container_id, sandbox = wait_until(lambda: container_of(agent, task_id), 30,
                                       "the task's container")

    def sleeps():
        return {pid: cmd for pid, cmd in processes_of(container_id, sandbox).items()
                if cmd == "sleep 1000"}

    running = wait_until(lambda: len(sleeps()) == 2 and sleeps(), 30, "both sleeps running")
    sessions = {os.getsid(pid) for pid in running}
    assert len(sessions) == 2, f"setsid did not start a session of its own: {running}"

    kill(stream, task_id, agent_id)
    status = wait_terminal(stream, task_id, timeout=60)
    assert status["state"] == "TASK_KILLED", status
    wait_until(lambda: not sleeps(), 15, lambda: f"no 'sleep 1000' left (still: {sleeps()})")
    wait_no_processes(container_id, sandbox)


@pytest.mark.deadline(120)
def test_statistics_report_cpu_and_memory_of_a_busy_task(stream, agent):
    task_id = launch(stream, "sh -c 'while :; do :; done'", cpus=0.5, mem=32)
    agent_id = agent_id_of(stream, task_id)
    stream.wait_state(task_id, "TASK_RUNNING", timeout=60)

    def busy():
        for entry in get_json(agent, "/monitor/statistics"):
            s = entry["statistics"]
            if entry["executor_id"] == task_id and \
                    s.get("cpus_user_time_secs", 0) + s.get("cpus_system_time_secs", 0) > 0.2 \
                    and s.get("mem_total_bytes", 0) > 0:
                return entry
        return None

    entry = wait_until(busy, 30, "CPU time and memory of the busy task")
    s = entry["statistics"]
    assert entry["framework_id"] == stream.framework_id
    assert s["timestamp"] > 0
    assert s["cpus_limit"] == pytest.approx(0.5 + EXECUTOR_CPUS), s
    assert s["mem_limit_bytes"] == (32 + EXECUTOR_MEM) * MiB, s
    assert s["mem_rss_bytes"] > 0, s
    for field in ("cpus_nr_periods", "cpus_nr_throttled", "cpus_throttled_time_secs",
                  "mem_cache_bytes", "mem_anon_bytes", "mem_file_bytes",
                  "mem_mapped_file_bytes", "processes", "threads"):
        assert field in s, f"{field} missing from {s}"
    assert s["processes"] >= 2, s  # the command executor and the loop

    containers = get_json(agent, "/containers")
    assert any(c["executor_id"] == task_id and c["container_id"] for c in containers), containers
    flags = get_json(agent, "/flags")["flags"]
    assert flags["isolation"] == ISOLATION
    assert flags["cgroups_enable_cfs"] == "true"
    assert flags["default_container_pids_limit"] == str(PIDS_LIMIT)
    assert get_json(agent, "/state")["flags"]["isolation"] == ISOLATION

    kill(stream, task_id, agent_id)
    assert wait_terminal(stream, task_id)["state"] == "TASK_KILLED"


@pytest.mark.deadline(60)
def test_unknown_isolator_is_a_startup_error(corral_bin, tmp_path):
    result = subprocess.run(
        [str(corral_bin), "agent", "--master", "127.0.0.1:1", "--port", "0",
         "--work_dir", str(tmp_path / "agent"), "--isolation", "cgroups/cpu,cgroups/memory"],
        capture_output=True, text=True, timeout=scaled(30),
        env={k: v for k, v in os.environ.items() if not k.startswith("MESOS_")})
    assert result.returncode != 0, result
    assert "cgroups/memory" in result.stderr, result.stderr


def _cgroup_limit_files(cgroups_root, container_id):
    """(cpu dir, memory dir) of a container under the agent's cgroups root."""
    v1, v2 = _cgroup_mounts()
    if v1:
        return (Path(v1["cpu"], cgroups_root, container_id),
                Path(v1["memory"], cgroups_root, container_id))
    return (Path(v2, cgroups_root, container_id),) * 2


def _cap_and_memory(cpu_dir, mem_dir):
    if (cpu_dir / "cpu.cfs_quota_us").exists():
        quota = int((cpu_dir / "cpu.cfs_quota_us").read_text())
    else:
        quota = int((cpu_dir / "cpu.max").read_text().split()[0])
    mem_file = "memory.limit_in_bytes" if (mem_dir / "memory.limit_in_bytes").exists() \
        else "memory.max"
    return quota, int((mem_dir / mem_file).read_text())


@pytest.mark.deadline(120)
def test_a_task_joining_a_default_executor_resizes_its_container(stream, agent, cgroups_root):
    """Mesos's containerizer update: a second task group on a running default executor
    raises the container's CPU cap and memory limit; when it ends the CPU cap comes back
    down and the memory hard limit stays (lowering it could OOM-kill the rest)."""
    executor_id = f"resize-{uuid.uuid4()}"

    def group(offer, name, cpus, mem):
        task_id = f"{name}-{uuid.uuid4()}"
        executor = {"type": "DEFAULT", "executor_id": {"value": executor_id},
                    "framework_id": {"value": stream.framework_id},
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}
        task = command_task(offer["agent_id"], "sleep 300", name=name, task_id=task_id,
                            cpus=cpus, mem=mem)
        stream.checked_call({"type": "ACCEPT", "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH_GROUP", "launch_group": {
                "executor": executor, "task_group": {"tasks": [task]}}}],
            "filters": {"refuse_seconds": 0}}})
        stream.wait_state(task_id, "TASK_RUNNING", timeout=60)
        return task_id

    first = group(stream.next_offer(), "first", 0.5, 64)
    container_id = None
    for _fw, ex in agent_executors(get_json(agent, "/state")):
        if ex.get("id") == executor_id:
            container_id = ex["container"]
    assert container_id, "the default executor's container"
    cpu_dir, mem_dir = _cgroup_limit_files(cgroups_root, container_id)
    assert _cap_and_memory(cpu_dir, mem_dir) == (60_000, 96 * MiB)

    second = group(stream.next_offer(), "second", 1.0, 128)
    wait_until(lambda: _cap_and_memory(cpu_dir, mem_dir) == (160_000, 224 * MiB), 15,
               lambda: f"the container grown to 1.6 cpus, 224 MB: {_cap_and_memory(cpu_dir, mem_dir)}")

    kill(stream, second, agent_id_of(stream, second))
    assert wait_terminal(stream, second)["state"] == "TASK_KILLED"
    wait_until(lambda: _cap_and_memory(cpu_dir, mem_dir) == (60_000, 224 * MiB), 15,
               lambda: f"the cpu cap back at 0.6: {_cap_and_memory(cpu_dir, mem_dir)}")
    kill(stream, first, agent_id_of(stream, first))
    assert wait_terminal(stream, first)["state"] == "TASK_KILLED"
