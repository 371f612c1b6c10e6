"""Image-based containers in the Mesos containerizer (issue 4): a real master and an agent
started with `--image_providers=docker --docker_registry=<dir>
--isolation=posix/cpu,posix/mem,filesystem/linux,docker/runtime`, driven by the raw scheduler.

No registry is reachable, so the test builds its image: a `docker save` tarball written by
hand (manifest.json, a config json and two layer tars) whose base layer holds a static
busybox and a marker file, and whose top layer whites out a file of the base layer.

* a command task with ContainerInfo MESOS + image DOCKER "corral-test/marker" reaches
  TASK_FINISHED, and its stdout (agent /files/read) shows the marker's content, the image's
  environment, the sandbox at /mnt/mesos/sandbox and a `/` without the host's directories;
* the whited-out file is absent;
* a framework with user `nobody`: the command executor stays root (it must enter the
  rootfs) and the task runs as `nobody`, writing to its sandbox;
* an unknown image fails the task (TASK_FAILED), and the agent keeps running;
* the image's `User` (a name resolved in the image's own /etc/passwd, or `uid:gid`) is the
  task's user when neither the task nor the framework names one; a framework user wins.

Needs root (mount namespaces, pivot_root) and a static busybox (Debian package
busybox-static, installed here if missing); otherwise the module is skipped with the reason.
"""

import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
import requests

from helpers import command_task, get_json, find_sandbox, sandbox_diagnostics
from mesos_raw import SchedulerStream

IMAGE = "corral-test/marker"
MARKER = "corral image marker 7f3a"


def _static_busybox():
    """Path of a static busybox, installing busybox-static (idempotent) if needed."""
    path = Path("/bin/busybox")
    if not path.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "busybox-static"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       timeout=300)
    if not path.exists():
        return None
    out = subprocess.run(["file", "-L", str(path)], capture_output=True, text=True,
                         check=False).stdout if shutil.which("file") else ""
    if "dynamically linked" in out:
        return None
    return path


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (mount namespaces, pivot_root)"
    if _static_busybox() is None:
        return "no static busybox (apt-get install busybox-static)"
    return None


_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"image e2e: {_REASON}")


# ------------------------------------------------------------ the image ----

def _add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar, name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _add_link(tar, name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def _layer(build):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        build(tar)
    return buf.getvalue()


def write_image(registry: Path):
    """`<registry>/corral-test/marker.tar` in `docker save` format (Mesos's local puller
    names archives `<name as given>.tar`)."""
    busybox = _static_busybox().read_bytes()

    def base(tar):
        _add_dir(tar, "bin/")
        _add(tar, "bin/busybox", busybox, 0o755)
        for applet in ("sh", "cat", "ls", "echo", "pwd", "test", "id"):
            _add_link(tar, f"bin/{applet}", "busybox")
        _add(tar, "marker", (MARKER + "\n").encode())
        _add(tar, "doomed", b"the top layer deletes me\n")

    def top(tar):
        _add(tar, ".wh.doomed", b"")
        _add_dir(tar, "etc/")
        _add(tar, "etc/motd", b"from the top layer\n")

    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/bin", "IMAGE_GREETING=hello-from-image"],
                         "Cmd": ["/bin/sh"], "WorkingDir": ""}}
    layers = [("base0000", _layer(base)), ("top00001", _layer(top))]
    out = registry / "corral-test" / "marker.tar"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, mode="w") as tar:
        _add(tar, "config.json", json.dumps(config).encode())
        for layer_id, data in layers:
            _add(tar, f"{layer_id}/layer.tar", data)
        manifest = [{"Config": "config.json", "RepoTags": [f"{IMAGE}:latest"],
                     "Layers": [f"{layer_id}/layer.tar" for layer_id, _ in layers]}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return out


# Users that exist only in the image (not on the host).
IMAGE_USER_UID, IMAGE_USER_GID = 4321, 4322
NUMERIC_USER = "4323:4324"


def write_user_image(registry: Path, name: str, user: str):
    """`<registry>/<name>.tar`: a busybox image whose config has `User: user` and whose
    /etc/passwd has the user `app` (uid 4321, group 4322)."""
    busybox = _static_busybox().read_bytes()

    def layer(tar):
        _add_dir(tar, "bin/")
        _add(tar, "bin/busybox", busybox, 0o755)
        for applet in ("sh", "echo", "id"):
            _add_link(tar, f"bin/{applet}", "busybox")
        _add_dir(tar, "etc/")
        _add(tar, "etc/passwd", (f"root:x:0:0:root:/root:/bin/sh\n"
                                 f"app:x:{IMAGE_USER_UID}:{IMAGE_USER_GID}:app:/:/bin/sh\n").encode())
        _add(tar, "etc/group", f"root:x:0:\napp:x:{IMAGE_USER_GID}:\n".encode())

    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "User": user}}
    out = registry / f"{name}.tar"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, mode="w") as tar:
        _add(tar, "config.json", json.dumps(config).encode())
        _add(tar, "layer0000/layer.tar", _layer(layer))
        manifest = [{"Config": "config.json", "RepoTags": [f"{name}:latest"],
                     "Layers": ["layer0000/layer.tar"]}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return out


# ---------------------------------------------------------- fixtures ----

@pytest.fixture(scope="module")
def image_cluster(module_cluster_factory, tmp_path_factory):
    registry = tmp_path_factory.mktemp("registry")
    store = tmp_path_factory.mktemp("store")
    write_image(registry)
    write_user_image(registry, "corral-test/named-user", "app")
    write_user_image(registry, "corral-test/numeric-user", NUMERIC_USER)
    return module_cluster_factory(agents=1, agent_env={
        "MESOS_IMAGE_PROVIDERS": "docker",
        "MESOS_DOCKER_REGISTRY": str(registry),
        "MESOS_DOCKER_STORE_DIR": str(store),
        "MESOS_IMAGE_PROVISIONER_BACKEND": "copy",
        "MESOS_ISOLATION": "posix/cpu,posix/mem,filesystem/linux,docker/runtime",
    })


@pytest.fixture
def agent(image_cluster):
    proc = image_cluster.agents[0]
    assert proc.alive(), f"the agent died in an earlier test\n{proc.tail()}"
    yield proc.url
    assert proc.alive(), f"the agent died during the test\n{proc.tail()}"
    assert requests.get(proc.url + "/health", timeout=5).status_code == 200


@pytest.fixture
def stream(image_cluster, agent):
    s = SchedulerStream(image_cluster.master_url, name="e2e-images").subscribe()
    yield s
    s.close()


def image_task(agent_id, cmd, image=IMAGE):
    return command_task(agent_id, cmd, name="img", task_id=f"img-{uuid.uuid4()}", container={
        "type": "MESOS",
        "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}},
    })


def wait_terminal(stream, task_id, timeout=60):
    return stream.wait_update(task_id, lambda s: s["state"] in (
        "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
        "TASK_DROPPED", "TASK_GONE"), timeout, "a terminal state")


def read_all(agent_url, path):
    return get_json(agent_url, "/files/read", {"path": path, "offset": 0,
                                               "length": 1 << 20})["data"]


# ------------------------------------------------------------- tests ----

@pytest.mark.deadline(120)
def test_a_task_runs_in_its_docker_image(stream, agent):
    script = ("cat /marker; echo ls:; ls /; echo :ls; echo env=$IMAGE_GREETING; "
              "echo sandbox=$MESOS_SANDBOX; echo pwd=$(pwd); cat /etc/motd; "
              "test -e /doomed && echo doomed-present || echo doomed-absent; "
              "echo from-task > /mnt/mesos/sandbox/written-inside")
    offer = stream.next_offer()
    task = image_task(offer["agent_id"], script)
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    status = wait_terminal(stream, task_id)
    diag = sandbox_diagnostics([agent], task_id=task_id)
    assert status["state"] == "TASK_FINISHED", f"{status}\n{diag}"
    sandbox = find_sandbox(agent, task_id=task_id)
    stdout = read_all(agent, f"{sandbox}/stdout")
    assert MARKER in stdout, diag
    listing = stdout.split("ls:", 1)[1].split(":ls", 1)[0].split()
    for host_only in ("usr", "var", "home", "root", "boot", "sys"):
        assert host_only not in listing, f"host directory {host_only} is visible: {listing}"
    assert "marker" in listing and "bin" in listing, listing
    assert "env=hello-from-image" in stdout, stdout
    assert "sandbox=/mnt/mesos/sandbox" in stdout, stdout
    assert "pwd=/mnt/mesos/sandbox" in stdout, stdout
    assert "from the top layer" in stdout, stdout
    assert "doomed-absent" in stdout, "the whiteout of the top layer must delete /doomed"
    # The sandbox inside is the real sandbox.
    assert read_all(agent, f"{sandbox}/written-inside") == "from-task\n"


@pytest.mark.deadline(90)
def test_the_task_runs_as_the_framework_user(image_cluster, agent):
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid
    with SchedulerStream(image_cluster.master_url, name="e2e-images-nobody",
                         user="nobody") as s:
        offer = s.next_offer()
        task = image_task(offer["agent_id"],
                          "echo uid=$(id -u); echo hi > /mnt/mesos/sandbox/as-nobody")
        task_id = task["task_id"]["value"]
        s.launch(offer, [task])
        status = wait_terminal(s, task_id)
        diag = sandbox_diagnostics([agent], task_id=task_id)
        assert status["state"] == "TASK_FINISHED", f"{status}\n{diag}"
        sandbox = find_sandbox(agent, task_id=task_id)
        assert f"uid={nobody}" in read_all(agent, f"{sandbox}/stdout"), diag
        assert os.stat(f"{sandbox}/as-nobody").st_uid == nobody


@pytest.mark.deadline(90)
def test_an_unknown_image_fails_the_task(stream, agent):
    offer = stream.next_offer()
    task = image_task(offer["agent_id"], "true", image="corral-test/does-not-exist")
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    status = wait_terminal(stream, task_id)
    assert status["state"] == "TASK_FAILED", status
    assert "corral-test/does-not-exist" in status.get("message", ""), status


def run_for_ids(stream, agent, image):
    offer = stream.next_offer()
    task = image_task(offer["agent_id"], "echo ids=$(id -u):$(id -g)", image=image)
    task_id = task["task_id"]["value"]
    stream.launch(offer, [task])
    status = wait_terminal(stream, task_id)
    diag = sandbox_diagnostics([agent], task_id=task_id)
    assert status["state"] == "TASK_FINISHED", f"{status}\n{diag}"
    stdout = read_all(agent, f"{find_sandbox(agent, task_id=task_id)}/stdout")
    return stdout.split("ids=", 1)[1].split()[0] if "ids=" in stdout else diag


@pytest.mark.deadline(120)
def test_the_image_user_runs_the_task(stream, agent):
    # A name, resolved in the image's /etc/passwd (the host has no such user).
    assert run_for_ids(stream, agent, "corral-test/named-user") == \
        f"{IMAGE_USER_UID}:{IMAGE_USER_GID}"
    # uid:gid.
    assert run_for_ids(stream, agent, "corral-test/numeric-user") == NUMERIC_USER


@pytest.mark.deadline(90)
def test_a_framework_user_wins_over_the_image_user(image_cluster, agent):
    import pwd
    nobody = pwd.getpwnam("nobody")
    with SchedulerStream(image_cluster.master_url, name="e2e-images-user-wins",
                         user="nobody") as s:
        ids = run_for_ids(s, agent, "corral-test/named-user")
    assert ids == f"{nobody.pw_uid}:{nobody.pw_gid}", ids
