"""Legacy GET endpoints that UIs and CLIs read, on a master and an agent that
ran one command task (the framework stays subscribed during the module)."""

import re

import pytest

from helpers import find_sandbox, get_json, http_get
from mesos_raw import run_command_task

MARKER = "hello-from-the-sandbox"


@pytest.fixture(scope="module")
def ran(module_cluster_factory):
    cluster = module_cluster_factory(agents=1)
    stream, task_id, offer = run_command_task(
        cluster.master_url, f"echo {MARKER}; echo to-stderr 1>&2", name="e2e-endpoints")
    try:
        assert [s["state"] for s in stream.updates(task_id)][-1] == "TASK_FINISHED", stream.updates(task_id)
        yield cluster, stream, task_id, offer
    finally:
        stream.close()


def test_version_is_numeric(ran):
    cluster = ran[0]
    for url in [cluster.master_url, *cluster.agent_urls]:
        version = get_json(url, "/version")["version"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{url}/version: {version!r} (pymesos int()s it)"


@pytest.mark.parametrize("path", ["/state", "/master/state", "/state.json"])
def test_state_aliases(ran, path):
    cluster, stream, _task_id, offer = ran
    state = get_json(cluster.master_url, path)
    assert state["pid"].startswith("master@") and state["leader"] == state["pid"], state.get("pid")
    assert [s["id"] for s in state["slaves"]] == [offer["agent_id"]["value"]]
    assert stream.framework_id in [f["id"] for f in state["frameworks"]]


def test_frameworks_with_trailing_slash(ran):
    cluster, stream, _task_id, _offer = ran
    data = get_json(cluster.master_url, "/master/frameworks/")
    (fw,) = [f for f in data["frameworks"] if f["id"] == stream.framework_id]
    assert fw["name"] == "e2e-endpoints" and fw["active"] is True, fw
    assert "completed_frameworks" in data


def test_redirect_points_at_the_leader(ran):
    cluster = ran[0]
    resp = http_get(cluster.master_url, "/redirect", allow_redirects=False)
    assert resp.status_code == 307, resp.text
    location = resp.headers["Location"]
    assert location.startswith("//") and location.endswith(f":{cluster.master_port}"), location


def test_metrics_snapshot_says_elected(ran):
    metrics = get_json(ran[0].master_url, "/metrics/snapshot")
    assert metrics.get("master/elected") == 1, {k: v for k, v in metrics.items() if k.startswith("master/e")}


def test_tasks_unlimited_ascending(ran):
    cluster, stream, task_id, _offer = ran
    tasks = get_json(cluster.master_url, "/tasks", {"limit": "-1", "order": "asc"})["tasks"]
    (task,) = [t for t in tasks if t["id"] == task_id]
    assert task["framework_id"] == stream.framework_id and task["state"] == "TASK_FINISHED", task
    assert "executor_id" in task and task["statuses"], f"avmesos-cli needs these keys: {task}"
    assert task["statuses"][-1]["state"] == "TASK_FINISHED"


def test_roles_and_state_summary(ran):
    cluster, stream, _task_id, offer = ran
    roles = get_json(cluster.master_url, "/roles")["roles"]
    assert isinstance(roles, list)
    summary = get_json(cluster.master_url, "/state-summary")
    assert "hostname" in summary
    assert [s["id"] for s in summary["slaves"]] == [offer["agent_id"]["value"]]
    assert stream.framework_id in [f["id"] for f in summary["frameworks"]]


def test_agent_state(ran):
    cluster, stream, task_id, offer = ran
    state = get_json(cluster.agent_urls[0], "/state")
    assert state["id"] == offer["agent_id"]["value"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", state["version"])
    assert find_sandbox(cluster.agent_urls[0], task_id=task_id), "no executor directory for the task"


@pytest.fixture(scope="module")
def sandbox(ran):
    cluster, _stream, task_id, _offer = ran
    directory = find_sandbox(cluster.agent_urls[0], task_id=task_id)
    assert directory, "the agent /state has no executor directory for the finished task"
    return cluster.agent_urls[0], directory


def test_files_browse(sandbox):
    agent, directory = sandbox
    entries = get_json(agent, "/files/browse", {"path": directory})
    names = {e["path"].rsplit("/", 1)[-1]: e for e in entries}
    assert {"stdout", "stderr"} <= set(names), entries
    for entry in names.values():
        assert {"path", "size", "mode", "mtime", "nlink", "uid", "gid"} <= set(entry), entry


def test_files_read(sandbox):
    agent, directory = sandbox
    data = get_json(agent, "/files/read", {"path": f"{directory}/stdout", "offset": 0, "length": 100000})
    assert data["offset"] == 0 and MARKER in data["data"], data
    head = get_json(agent, "/files/read", {"path": f"{directory}/stdout", "offset": 0, "length": 100})
    assert len(head["data"]) <= 100
    err = get_json(agent, "/files/read", {"path": f"{directory}/stderr", "offset": 0, "length": 100000})
    assert "to-stderr" in err["data"], err


def test_files_read_offset_minus_one_gives_size(sandbox):
    agent, directory = sandbox
    size = {e["path"].rsplit("/", 1)[-1]: e["size"]
            for e in get_json(agent, "/files/browse", {"path": directory})}["stdout"]
    end = get_json(agent, "/files/read", {"path": f"{directory}/stdout", "offset": -1})
    assert end == {"data": "", "offset": size}, (end, size)


def test_files_errors(sandbox):
    agent, directory = sandbox
    assert http_get(agent, "/files/read").status_code == 400
    assert http_get(agent, "/files/read", {"path": f"{directory}/no-such-file", "offset": 0}).status_code == 404
    assert http_get(agent, "/files/browse", {"path": f"{directory}/no-such-dir"}).status_code == 404
