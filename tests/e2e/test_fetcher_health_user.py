"""The fetcher, health checks and running tasks as a user, end to end.

A real master and agent; a raw v1 scheduler launches command tasks whose `uris` point at a
local Python HTTP server started by the test, tasks with HTTP/TCP/COMMAND health checks,
and tasks that run as `nobody` (the agent runs as root with --switch_user, the default).

The cluster's work dirs live under a world-traversable temporary directory (pytest's own
is 0700), so a task running as `nobody` can reach its sandbox, as it can under a real
agent's work dir.
"""

import http.server
import io
import os
import pwd
import shutil
import stat
import tarfile
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from conftest import ClusterPool, free_port
from helpers import command_task, find_sandbox, wait_until
from mesos_raw import SchedulerStream

IS_ROOT = os.geteuid() == 0
NOBODY = "nobody"
needs_root = pytest.mark.skipif(not IS_ROOT, reason="switching users needs the agent to run as root")


# ----------------------------------------------------------------- fixtures ----

class Files(http.server.ThreadingHTTPServer):
    """Serves `files` (path -> bytes) on 127.0.0.1 and counts requests per path."""

    daemon_threads = True

    def __init__(self):
        self.files = {}
        self.hits = {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, name="e2e-files", daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server_address[1]}/{path}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.path.lstrip("/")
        with self.server.lock:
            self.server.hits[path] = self.server.hits.get(path, 0) + 1
            body = self.server.files.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def files():
    server = Files()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cluster(corral_bin):
    base = Path(tempfile.mkdtemp(prefix="corral-e2e-fhu-", dir="/tmp"))
    os.chmod(base, 0o755)
    counter = iter(range(1000))

    def make_dir():
        path = base / f"cluster{next(counter)}"
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
        return path

    pool = ClusterPool(corral_bin, make_dir)
    try:
        yield pool.start(agents=1, agent_env={"MESOS_FETCHER_CACHE_SIZE": "64MB"})
    finally:
        problems = pool.stop_all()
        shutil.rmtree(base, ignore_errors=True)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def stream(cluster):
    s = SchedulerStream(cluster.master_url, name="e2e-fhu", user="root" if IS_ROOT else None)
    s.subscribe()
    yield s
    s.close()


def launch(stream, task):
    offer = stream.next_offer()
    task["agent_id"] = offer["agent_id"]
    stream.launch(offer, [task])
    return task["task_id"]["value"]


def terminal(stream, task_id, timeout=60):
    return stream.wait_update(
        task_id, lambda s: s["state"] in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED",
                                          "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"),
        timeout, "a terminal state")


def tar_gz(entries):
    """A .tar.gz of (name, text, mode) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text, mode in entries:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def closed_port():
    """A port nothing listens on: below the ephemeral range (so never a client's source port)
    and never handed out again in this run (conftest's `free_port`), unlike bind-then-drop."""
    return free_port()


def task(name, cmd, **extra):
    return command_task("", cmd, name=name, task_id=f"{name}-{uuid.uuid4().hex[:8]}", **extra)


def sandbox_of(cluster, task_id):
    return Path(wait_until(lambda: find_sandbox(cluster.agent_urls[0], task_id), 10,
                           f"the sandbox of {task_id}"))


# -------------------------------------------------------------------- fetcher ----

@pytest.mark.deadline(120)
def test_uris_are_fetched_extracted_and_cached(cluster, stream, files):
    files.files["app.tar.gz"] = tar_gz([
        ("app/run.sh", "#!/bin/sh\necho fetched-and-ran > out.txt\n", 0o755),
        ("app/data.txt", "payload\n", 0o644),
    ])
    uri = {"value": files.url("app.tar.gz"), "cache": True}
    ids = []
    for i in range(2):
        t = task(f"fetch{i}", "./app/run.sh && grep -q payload app/data.txt")
        t["command"]["uris"] = [uri]
        ids.append(launch(stream, t))
        status = terminal(stream, ids[-1])
        assert status["state"] == "TASK_FINISHED", status
    for task_id in ids:
        sandbox = sandbox_of(cluster, task_id)
        assert (sandbox / "out.txt").read_text().strip() == "fetched-and-ran"
        assert (sandbox / "app.tar.gz").is_file(), "the archive stays in the sandbox"
    assert files.hits.get("app.tar.gz") == 1, \
        f"the second task should be served from the fetcher cache: {files.hits}"


@pytest.mark.deadline(90)
def test_output_file_and_executable(cluster, stream, files):
    files.files["tool"] = b"#!/bin/sh\necho tool-ran\n"
    t = task("exe", "./bin/mytool > tool.out")
    t["command"]["uris"] = [{"value": files.url("tool"), "executable": True,
                             "output_file": "bin/mytool"}]
    task_id = launch(stream, t)
    status = terminal(stream, task_id)
    assert status["state"] == "TASK_FINISHED", status
    sandbox = sandbox_of(cluster, task_id)
    assert stat.S_IMODE((sandbox / "bin/mytool").stat().st_mode) == 0o755
    assert (sandbox / "tool.out").read_text().strip() == "tool-ran"


@pytest.mark.deadline(90)
def test_a_bad_uri_fails_the_task_naming_it(stream, files):
    bad = files.url("missing/nothing.tar.gz")
    t = task("baduri", "echo should-not-run")
    t["command"]["uris"] = [{"value": bad}]
    task_id = launch(stream, t)
    status = terminal(stream, task_id)
    assert status["state"] == "TASK_FAILED", status
    message = status.get("message", "")
    assert message.startswith(f"Failed to fetch '{bad}'"), message
    assert "404" in message, message
    assert status.get("reason") == "REASON_CONTAINER_LAUNCH_FAILED", status
    assert not any(s["state"] == "TASK_RUNNING" for s in stream.updates(task_id))


# -------------------------------------------------------------- health checks ----

@pytest.mark.deadline(90)
def test_a_failing_http_health_check_kills_the_task(stream):
    t = task("unhealthy", "sleep 60")
    t["health_check"] = {
        "type": "HTTP", "http": {"port": closed_port(), "path": "/health"},
        "delay_seconds": 0, "interval_seconds": 0.3, "timeout_seconds": 1,
        "consecutive_failures": 2, "grace_period_seconds": 0,
    }
    t["kill_policy"] = {"grace_period": {"nanoseconds": 500_000_000}}
    task_id = launch(stream, t)
    status = terminal(stream, task_id, timeout=45)
    assert status["state"] == "TASK_KILLED", status
    assert status.get("healthy") is False, status
    health = [s for s in stream.updates(task_id)
              if s["state"] == "TASK_RUNNING" and "healthy" in s]
    assert len(health) >= 2, stream.updates(task_id)
    assert all(s["healthy"] is False for s in health), health
    assert all(s.get("reason") == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED" for s in health)


@pytest.mark.deadline(90)
def test_passing_tcp_and_command_checks_report_healthy(stream):
    port = closed_port()
    server = ("python3 -c 'import socket,time; s=socket.socket(); "
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
              f"s.bind((\"127.0.0.1\", {port})); s.listen(8); time.sleep(60)'")
    tcp = task("tcpcheck", server)
    tcp["health_check"] = {"type": "TCP", "tcp": {"port": port}, "delay_seconds": 0,
                           "interval_seconds": 0.3, "grace_period_seconds": 20}
    cmd = task("cmdcheck", "touch ready && sleep 60")
    cmd["health_check"] = {"type": "COMMAND", "command": {"value": "test -f ready"},
                           "delay_seconds": 0, "interval_seconds": 0.3,
                           "grace_period_seconds": 20}
    ids = [launch(stream, tcp), launch(stream, cmd)]
    for task_id in ids:
        status = stream.wait_update(task_id, lambda s: s.get("healthy") is not None, 30,
                                    "a health update")
        assert status["state"] == "TASK_RUNNING", status
        assert status["healthy"] is True, status
        assert status.get("reason") == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", status
    for task_id in ids:
        stream.checked_call({"type": "KILL", "kill": {
            "task_id": {"value": task_id},
            "agent_id": stream.updates(task_id)[0]["agent_id"]}})
        status = terminal(stream, task_id)
        assert status["state"] == "TASK_KILLED", status
        assert "healthy" not in status or status["healthy"] is not False, status


@pytest.mark.deadline(60)
def test_an_invalid_health_check_fails_the_task(stream):
    t = task("badcheck", "sleep 5")
    t["health_check"] = {"type": "TCP"}
    task_id = launch(stream, t)
    status = terminal(stream, task_id)
    # The master refuses it (Mesos's task validation); the executor would too.
    assert status["state"] == "TASK_ERROR", status
    assert status.get("reason") == "REASON_TASK_INVALID", status
    assert status.get("message", "").startswith("Task's health check is invalid: "), status
    assert "'tcp'" in status["message"], status


# ---------------------------------------------------------------------- users ----

@needs_root
@pytest.mark.deadline(120)
def test_tasks_run_as_their_user_in_a_sandbox_they_own(cluster, stream, files):
    nobody = pwd.getpwnam(NOBODY)
    files.files["nobody.tar.gz"] = tar_gz([("payload.txt", "hello\n", 0o644)])
    t = task("asnobody", "id -u > uid.txt && id -G > groups.txt && cat payload.txt")
    t["command"]["user"] = NOBODY
    t["command"]["uris"] = [{"value": files.url("nobody.tar.gz"), "cache": True}]
    task_id = launch(stream, t)
    status = terminal(stream, task_id)
    assert status["state"] == "TASK_FINISHED", status
    sandbox = sandbox_of(cluster, task_id)
    st = sandbox.stat()
    assert st.st_uid == nobody.pw_uid, f"sandbox owned by {st.st_uid}"
    assert stat.S_IMODE(st.st_mode) == 0o750, oct(st.st_mode)
    assert (sandbox / "uid.txt").read_text().strip() == str(nobody.pw_uid)
    groups = {int(g) for g in (sandbox / "groups.txt").read_text().split()}
    assert groups == set(os.getgrouplist(NOBODY, nobody.pw_gid)), \
        f"supplementary groups {groups} are not nobody's"
    assert (sandbox / "payload.txt").stat().st_uid == nobody.pw_uid


@needs_root
@pytest.mark.deadline(90)
def test_without_a_command_user_the_framework_user_is_used(cluster):
    nobody = pwd.getpwnam(NOBODY)
    other = SchedulerStream(cluster.master_url, name="e2e-fhu-nobody", user=NOBODY).subscribe()
    try:
        t = task("fwnobody", "id -un > user.txt")
        task_id = launch(other, t)
        status = terminal(other, task_id)
        assert status["state"] == "TASK_FINISHED", status
        sandbox = sandbox_of(cluster, task_id)
        assert (sandbox / "user.txt").read_text().strip() == NOBODY
        assert sandbox.stat().st_uid == nobody.pw_uid
    finally:
        other.close()


@needs_root
@pytest.mark.deadline(60)
def test_an_unknown_user_fails_the_task(cluster, stream):
    t = task("nouser", "touch launched")
    t["command"]["user"] = "corral-no-such-user"
    task_id = launch(stream, t)
    status = terminal(stream, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert "user 'corral-no-such-user' does not exist" in status.get("message", ""), status
    assert not any(s["state"] == "TASK_RUNNING" for s in stream.updates(task_id))


# ------------------------------------------------------------ custom executors ----

def custom_executor_task(name, uris, cmd="./bin/exec.sh"):
    t = task(name, "true")
    del t["command"]
    t["executor"] = {
        "executor_id": {"value": f"{name}-exec-{uuid.uuid4().hex[:8]}"},
        "name": "e2e fetched custom executor",
        "command": {"value": cmd, "uris": uris},
    }
    return t


@pytest.mark.deadline(90)
def test_a_custom_executor_gets_its_own_uris_before_it_starts(cluster, stream, files):
    # Not a real executor: it proves it was fetched, ran from the sandbox, and exits (so
    # its task fails as the executor terminated).
    files.files["exec.sh"] = b"#!/bin/sh\necho custom-executor-ran > marker.txt\nexit 0\n"
    t = custom_executor_task("cexec", [{"value": files.url("exec.sh"), "executable": True,
                                        "output_file": "bin/exec.sh"}])
    executor_id = t["executor"]["executor_id"]["value"]
    task_id = launch(stream, t)
    terminal(stream, task_id)
    sandbox = Path(wait_until(lambda: find_sandbox(cluster.agent_urls[0], executor_id=executor_id),
                              10, "the custom executor's sandbox"))
    assert (sandbox / "marker.txt").read_text().strip() == "custom-executor-ran"
    assert stat.S_IMODE((sandbox / "bin/exec.sh").stat().st_mode) == 0o755


@pytest.mark.deadline(90)
def test_a_custom_executor_whose_uri_fails_is_not_started(stream, files):
    bad = files.url("no/such/executor.tgz")
    t = custom_executor_task("cexecbad", [{"value": bad}], cmd="touch started")
    task_id = launch(stream, t)
    status = terminal(stream, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert f"Failed to fetch '{bad}'" in status.get("message", ""), status
    assert status.get("reason") == "REASON_CONTAINER_LAUNCH_FAILED", status
