"""Hostile input to /api/v1/scheduler: each bad request gets a clear error,
changes nothing, and the master survives all of them (one master for the
whole module; the last test checks it is still alive and idle)."""

import json
import uuid

import pytest
import requests

from helpers import command_task, cpus_mem, port_range, scalar, wait_until
from mesos_raw import SchedulerStream, post_scheduler, raw_post

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def hostile_cluster(module_cluster_factory):
    return module_cluster_factory(agents=1)


@pytest.fixture
def master(hostile_cluster):
    """The master URL; after each test the master must still run and answer /health."""
    proc = hostile_cluster.master
    if not proc.alive():
        pytest.fail("the master died in an earlier test of this module", pytrace=False)
    yield hostile_cluster.master_url
    if not proc.alive():
        pytest.fail(f"the master process died (exit code {proc.popen.returncode})\n{proc.tail()}",
                    pytrace=False)
    assert requests.get(hostile_cluster.master_url + "/health", timeout=5).status_code == 200


@pytest.fixture
def stream(master):
    s = SchedulerStream(master, name="e2e-hostile").subscribe()
    yield s
    s.close()


def test_malformed_json_is_400(master):
    for body in (b'{"type": "SUBSCRIBE", "subscribe": {', b"\xff\xfe not json", b"[]", b"null"):
        resp = post_scheduler(master, body)
        assert resp.status_code == 400, (body, resp.status_code, resp.text)
        assert requests.get(master + "/health", timeout=5).status_code == 200


def test_malformed_protobuf_is_400(master):
    for garbage in (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x08\x80\x80", b"\x0f\x01"):
        resp = post_scheduler(master, garbage, content_type="application/x-protobuf")
        assert resp.status_code == 400, (garbage, resp.status_code, resp.text)


def test_missing_required_field_names_it(master):
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "no-user"}}}
    resp = post_scheduler(master, body)
    assert resp.status_code == 400, resp.text
    assert "user" in resp.text, f"400 body does not name the missing field: {resp.text!r}"


@pytest.mark.parametrize("content_type,expected", [
    ("text/plain", (415,)), ("application/xml", (415,)), (None, (400, 415))],
    ids=["text-plain", "xml", "missing"])
def test_bad_content_type(master, content_type, expected):
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}
    resp = post_scheduler(master, body, content_type=content_type)
    assert resp.status_code in expected, (content_type, resp.status_code, resp.text)


def test_get_is_405(master):
    resp = requests.get(master + "/api/v1/scheduler", timeout=10)
    assert resp.status_code == 405, resp.text
    assert "POST" in resp.headers.get("Allow", ""), dict(resp.headers)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_oversized_body_is_413(master, framing):
    size, piece = 5 * MiB, b" " * (64 * 1024)
    headers = {"Content-Type": "application/json"}
    if framing == "content-length":
        headers["Content-Length"] = str(size)
        chunks = (piece for _ in range(size // len(piece)))
    else:
        headers["Transfer-Encoding"] = "chunked"
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (size // len(piece)) + [b"0\r\n\r\n"]
    resp = raw_post(master, "/api/v1/scheduler", headers, chunks)
    assert resp.status == 413, (f"expected 413, got {resp.status} after sending "
                                f"{resp.body_bytes_sent} body bytes: {resp.text[:300]!r}")


def test_subscribe_with_stream_id_is_400(master):
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}
    resp = post_scheduler(master, body, headers={"Mesos-Stream-Id": str(uuid.uuid4())})
    assert resp.status_code == 400, resp.text


def test_wrong_or_missing_stream_id(stream):
    for sid in (str(uuid.uuid4()), ""):
        resp = stream.call({"type": "REVIVE"}, stream_id=sid)
        assert resp.status_code in (400, 403), (sid, resp.status_code, resp.text)
        assert "stream" in resp.text.lower(), f"error does not say why: {resp.text!r}"
    stream.checked_call({"type": "REVIVE"})  # the real stream id still works


def test_call_for_unknown_framework(master):
    body = {"type": "REVIVE", "framework_id": {"value": f"{uuid.uuid4()}-0000"}}
    resp = post_scheduler(master, body, headers={"Mesos-Stream-Id": str(uuid.uuid4())})
    assert resp.status_code in (400, 403), resp.text
    assert "framework" in resp.text.lower(), f"error does not say why: {resp.text!r}"


def test_duplicate_task_ids_in_one_accept(stream):
    offer = stream.next_offer()
    task_id = f"dup-{uuid.uuid4()}"
    first = command_task(offer["agent_id"], "exit 0", name="dup", task_id=task_id)
    second = command_task(offer["agent_id"], "exit 0", name="dup", task_id=task_id)
    stream.launch(offer, [first, second])
    error = stream.wait_state(task_id, "TASK_ERROR", timeout=30)
    assert error.get("reason") == "REASON_TASK_INVALID", error
    assert not error.get("uuid"), f"master-generated update must carry no uuid: {error}"
    stream.wait_state(task_id, "TASK_FINISHED", timeout=60)  # the first one ran
    states = [s["state"] for s in stream.updates(task_id)]
    assert states.count("TASK_ERROR") == 1, states


INVALID_RESOURCES = {
    "negative cpus": [scalar("cpus", -1.0), scalar("mem", 32)],
    "NaN cpus": [scalar("cpus", "NaN"), scalar("mem", 32)],
    "inverted port range": cpus_mem() + [port_range(31005, 31003)],
}


def test_invalid_resources_are_task_error(stream, hostile_cluster):
    for label, resources in INVALID_RESOURCES.items():
        offer = stream.next_offer()
        task = command_task(offer["agent_id"], "sleep 300", name="bad-res", resources=resources)
        resp = stream.call({"type": "ACCEPT", "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
            "filters": {"refuse_seconds": 0.0}}})
        if label == "NaN cpus" and resp.status_code == 400:
            # Refusing "NaN" while parsing is as good as TASK_ERROR; the offer is still ours.
            stream.checked_call({"type": "DECLINE", "decline": {
                "offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0.0}}})
            stream.revive()
            continue
        assert resp.status_code == 202, (label, resp.status_code, resp.text)
        status = stream.wait_update(task["task_id"]["value"], lambda s: True, 30, f"rejection of {label}")
        assert (status["state"], status.get("reason")) == ("TASK_ERROR", "REASON_TASK_INVALID"), (label, status)
        stream.revive()

    def agent_unused():
        (agent,) = hostile_cluster.json("/slaves")["slaves"]
        used = agent["used_resources"]
        return agent if abs(used.get("cpus", 0)) < 1e-6 and abs(used.get("mem", 0)) < 1e-6 else None
    wait_until(agent_unused, 15, "the agent's used_resources to be 0 after the invalid launches")


def test_master_survived_everything(hostile_cluster):
    assert hostile_cluster.master.alive(), "master process is gone (panic?)"
    assert all(a.alive() for a in hostile_cluster.agents), "an agent process is gone"
    assert hostile_cluster.get("/health").status_code == 200

    def no_running_tasks():
        state = hostile_cluster.json("/state")
        active = [(t["id"], t["state"]) for fw in state["frameworks"] for t in fw.get("tasks", [])
                  if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")]
        return not active or None
    wait_until(no_running_tasks, 30, "/state to show no running task")
    assert json.loads(hostile_cluster.get("/version").text)["version"]
