"""A tiny raw v1 scheduler client for the tests: a strict RecordIO reader, a
subscription whose events are collected by a background thread, plain calls,
and a raw-socket HTTP request for bodies the server may refuse half-way.

Deliberately independent of the third-party clients, so that it can send
what they never would (duplicate ids, invalid resources, wrong stream ids).
"""

import getpass
import json
import select
import socket
import threading
import time
import uuid

import requests

from helpers import command_task, describe_offer, offer_amounts, offer_resources, scaled, sized

JSON = "application/json"


class RecordIOError(AssertionError):
    pass


class RecordIOReader:
    """Incremental decoder of `<decimal length>\\n<bytes>` records."""

    MAX_LENGTH_DIGITS = 20

    def __init__(self):
        self._buf = b""

    def feed(self, data):
        """Add bytes; return the list of complete records now available."""
        self._buf += data
        records = []
        while True:
            newline = self._buf.find(b"\n")
            if newline < 0:
                if len(self._buf) > self.MAX_LENGTH_DIGITS:
                    raise RecordIOError(f"no record length line in {self._buf[:40]!r}")
                return records
            head = self._buf[:newline]
            if not head.isdigit():
                raise RecordIOError(f"bad RecordIO length line {head[:40]!r}")
            length = int(head)
            if length == 0:
                raise RecordIOError("RecordIO record of length 0")
            end = newline + 1 + length
            if len(self._buf) < end:
                return records
            records.append(self._buf[newline + 1:end])
            self._buf = self._buf[end:]

    @property
    def pending(self):
        return self._buf


def post_scheduler(master_url, body, content_type=JSON, headers=None, timeout=10):
    """POST one call to /api/v1/scheduler; `body` may be a dict, str or bytes."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    hdrs = {}
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    return requests.post(master_url + "/api/v1/scheduler", data=body, headers=hdrs,
                         timeout=scaled(timeout))


class SchedulerStream:
    """A v1 scheduler subscription read by a background thread.

    Events are kept in order in `self.events`; UPDATEs carrying a uuid are
    acknowledged automatically unless auto_ack=False.
    """

    def __init__(self, master_url, name="e2e-raw", user=None, auto_ack=True,
                 framework_info=None):
        self.master_url = master_url
        self.auto_ack = auto_ack
        self.framework_info = {"user": user or getpass.getuser(), "name": name, "failover_timeout": 0.0}
        self.framework_info.update(framework_info or {})
        self.events = []
        self.errors = []          # reader-thread failures (bad RecordIO, bad JSON, ack errors)
        self.framework_id = None
        self.stream_id = None
        self._used_offers = set()
        self._cond = threading.Condition()
        self._resp = None
        self._closed = False
        self._thread = None

    # -- lifecycle ----------------------------------------------------------
    def subscribe(self, timeout=30):
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": self.framework_info}}
        resp = requests.post(self.master_url + "/api/v1/scheduler", data=json.dumps(body),
                             headers={"Content-Type": JSON, "Accept": JSON},
                             stream=True, timeout=(scaled(10), scaled(120)))
        if resp.status_code != 200:
            text = resp.text[:1000]
            resp.close()
            raise AssertionError(f"SUBSCRIBE -> {resp.status_code}: {text}")
        self.stream_id = resp.headers.get("Mesos-Stream-Id")
        assert self.stream_id, f"SUBSCRIBE response has no Mesos-Stream-Id: {dict(resp.headers)}"
        self._resp = resp
        self._thread = threading.Thread(target=self._read, name="raw-scheduler", daemon=True)
        self._thread.start()
        ev = self.wait_event(lambda e: e["type"] in ("SUBSCRIBED", "ERROR"), timeout, "SUBSCRIBED")
        assert ev["type"] == "SUBSCRIBED", f"subscription refused: {ev}"
        self.framework_id = ev["subscribed"]["framework_id"]["value"]
        return self

    def close(self, teardown=True):
        if self._closed:
            return
        self._closed = True  # before TEARDOWN: the server then ends the stream
        if teardown and self.framework_id:
            try:
                self.call({"type": "TEARDOWN"})
            except Exception:  # noqa: BLE001 - best effort at cleanup
                pass
        if self._resp is not None:
            self._resp.close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self):
        return self.subscribe()

    def __exit__(self, *exc):
        self.close()

    def _read(self):
        reader = RecordIOReader()
        try:
            for chunk in self._resp.iter_content(chunk_size=None):
                for record in reader.feed(chunk):
                    event = json.loads(record.decode("utf-8"))
                    self._on_event(event)
        except Exception as exc:  # noqa: BLE001 - surfaced by wait_event
            if not self._closed:
                self._fail(f"event stream failed: {exc!r}")
            return
        if not self._closed:
            self._fail(f"event stream ended by the server (unparsed tail {reader.pending[:80]!r})")

    def _fail(self, message):
        with self._cond:
            self.errors.append(message)
            self._cond.notify_all()

    def _on_event(self, event):
        if event.get("type") == "UPDATE" and self.auto_ack:
            status = event["update"]["status"]
            if status.get("uuid"):
                resp = self.call({"type": "ACKNOWLEDGE", "acknowledge": {
                    "agent_id": status["agent_id"], "task_id": status["task_id"],
                    "uuid": status["uuid"]}})
                if resp.status_code != 202:
                    self._fail(f"ACKNOWLEDGE -> {resp.status_code}: {resp.text[:300]}")
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    # -- events -------------------------------------------------------------
    def wait_event(self, pred, timeout, desc, start=0):
        """First event (from index `start`) matching pred, waiting up to `timeout` s."""
        deadline = time.monotonic() + scaled(timeout)
        with self._cond:
            while True:
                for event in self.events[start:]:
                    if pred(event):
                        return event
                if self.errors:
                    raise AssertionError(f"while waiting for {desc}: {self.errors[0]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    types = [e.get("type") for e in self.events]
                    raise AssertionError(f"timed out waiting for {desc}; events so far: {types}")
                self._cond.wait(min(left, 0.5))

    def next_offer(self, timeout=30):
        """An offer not yet handed out by next_offer() (and not rescinded)."""
        def fresh(event):
            if event["type"] != "OFFERS":
                return False
            return any(o["id"]["value"] not in self._used_offers for o in event["offers"]["offers"])
        with self._cond:
            rescinded = {e["rescind"]["offer_id"]["value"] for e in self.events if e["type"] == "RESCIND"}
            self._used_offers |= rescinded
        event = self.wait_event(fresh, timeout, "an offer")
        for offer in event["offers"]["offers"]:
            if offer["id"]["value"] not in self._used_offers:
                self._used_offers.add(offer["id"]["value"])
                return offer
        raise AssertionError("unreachable")

    def updates(self, task_id=None):
        with self._cond:
            return [e["update"]["status"] for e in self.events if e["type"] == "UPDATE"
                    and (task_id is None or e["update"]["status"]["task_id"]["value"] == task_id)]

    def wait_update(self, task_id, pred, timeout, desc):
        event = self.wait_event(
            lambda e: e["type"] == "UPDATE"
            and e["update"]["status"]["task_id"]["value"] == task_id
            and pred(e["update"]["status"]), timeout, f"{desc} for task {task_id}")
        return event["update"]["status"]

    def wait_state(self, task_id, state, timeout=60):
        return self.wait_update(task_id, lambda s: s["state"] == state, timeout, state)

    # -- calls --------------------------------------------------------------
    def call(self, body, stream_id=None, timeout=10):
        """POST a non-SUBSCRIBE call with this subscription's ids (overridable)."""
        body = dict(body)
        body.setdefault("framework_id", {"value": self.framework_id})
        sid = self.stream_id if stream_id is None else stream_id
        return post_scheduler(self.master_url, body, headers={"Mesos-Stream-Id": sid},
                              timeout=timeout)

    def checked_call(self, body, expect=202):
        resp = self.call(body)
        assert resp.status_code == expect, (
            f"{body.get('type')} -> {resp.status_code} (expected {expect}): {resp.text[:500]}")
        return resp

    def launch(self, offer, tasks, refuse_seconds=0.0):
        return self.checked_call({"type": "ACCEPT", "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": refuse_seconds}}})

    def revive(self):
        return self.checked_call({"type": "REVIVE"})


def run_command_task(master_url, cmd, name="e2e-raw", timeout=60):
    """Subscribe, run one command task to TASK_FINISHED; return (stream, task_id, offer).

    The stream stays subscribed; the caller closes it.
    """
    stream = SchedulerStream(master_url, name=name).subscribe()
    offer = stream.next_offer()
    task_id = f"{name}-{uuid.uuid4()}"
    stream.launch(offer, [command_task(offer["agent_id"], cmd, name=name, task_id=task_id)])
    stream.wait_update(task_id, lambda s: s["state"] in ("TASK_FINISHED", "TASK_FAILED",
                                                          "TASK_ERROR", "TASK_LOST"),
                       timeout, "a terminal state")
    return stream, task_id, offer


# ------------------------------------------------------ raw HTTP requests ----

class RawResponse:
    def __init__(self, status, headers, body, body_bytes_sent):
        self.status = status
        self.headers = headers
        self.body = body
        self.body_bytes_sent = body_bytes_sent

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def raw_post(url, path, headers, body_chunks, timeout=30):
    """POST over a raw socket, stopping the upload as soon as the server answers.

    Servers answer an oversized body (413) before reading it and may then
    reset the connection; a normal client would lose the response in the
    broken pipe. Returns a RawResponse; status is None if the server closed
    the connection without an HTTP response.
    """
    host, port = url.split("//", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=scaled(10))
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        sent = 0
        sock.settimeout(5)
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered early
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                break  # the server stopped reading; go read its answer
            sent += len(chunk)
        return _read_response(sock, sent, scaled(timeout))
    finally:
        sock.close()


def _read_response(sock, sent, timeout):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not part:
            break
        data += part
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and head.startswith(b"HTTP/1.1 100"):
            data = body  # skip an interim 100 Continue
            continue
        if sep:
            headers = _parse_headers(head)
            length = headers.get("content-length")
            if length is not None and len(body) >= int(length):
                break
    head, sep, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/"):
        return RawResponse(None, {}, data, sent)
    status = int(head.split(b" ", 2)[1])
    return RawResponse(status, _parse_headers(head), body, sent)


def _parse_headers(head):
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    return headers


# --------------------------------------------------- offer-driven loops ----

def accept_call(offer, operations, refuse_seconds=0.0):
    return {"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": operations,
                                         "filters": {"refuse_seconds": refuse_seconds}}}


def decline_call(offer, refuse_seconds=0.0):
    return {"type": "DECLINE", "decline": {"offer_ids": [offer["id"]],
                                           "filters": {"refuse_seconds": refuse_seconds}}}


def wait_offer(stream, pred, timeout, desc, refuse_seconds=0.5):
    """The first new offer of `stream` for which pred(offer) is true; offers that do
    not match are declined with `refuse_seconds`. The failure names every offer seen."""
    deadline = time.monotonic() + scaled(timeout)
    seen = []
    while True:
        if stream.errors or time.monotonic() >= deadline:
            raise AssertionError(f"no offer with {desc} within {timeout}s (stream errors: "
                                 f"{stream.errors[:1]}); offers seen: "
                                 f"{[describe_offer(o) for o in seen[-20:]]}")
        try:
            offer = stream.next_offer(timeout=1)
        except AssertionError:
            continue
        if pred(offer):
            return offer
        seen.append(offer)
        stream.checked_call(decline_call(offer, refuse_seconds))


class OfferLoop:
    """Answers every offer of a subscribed SchedulerStream on a background thread:
    `policy(offer)` returns the operations to ACCEPT it with (none: DECLINE), leftovers
    filtered for `refuse_seconds`. Every offer seen is kept in `offers`; failed calls in
    `errors`. stop() ends the loop (the stream stays subscribed)."""

    def __init__(self, stream, policy=None, refuse_seconds=1.0):
        self.stream = stream
        self.policy = policy or (lambda offer: [])
        self.refuse_seconds = refuse_seconds
        self.offers = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"offers-{stream.framework_info['name']}")

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(scaled(10))

    def _run(self):
        while not self._stop.is_set():
            try:
                offer = self.stream.next_offer(timeout=0.5)
            except AssertionError as exc:
                if self.stream.errors:
                    self.errors.append(str(exc))
                    return
                continue
            self.offers.append(offer)
            try:
                ops = self.policy(offer) or []
                body = (accept_call(offer, ops, self.refuse_seconds) if ops
                        else decline_call(offer, self.refuse_seconds))
                resp = self.stream.call(body)
                if resp.status_code != 202:
                    self.errors.append(f"{body['type']} -> {resp.status_code}: {resp.text[:300]}")
            except Exception as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(f"offer handling failed: {exc!r}")


def launch_op(tasks):
    return {"type": "LAUNCH", "launch": {"task_infos": tasks}}


def whole_offer_policy(name, cmd):
    """OfferLoop policy: one task `cmd` using all of the offer's unreserved cpus and mem
    (offers without cpus are declined)."""
    def policy(offer):
        res = offer_resources(offer)
        if not any(r["name"] == "cpus" for r in res):
            return []
        return [launch_op([command_task(offer["agent_id"], cmd, name=name, resources=res)])]
    return policy


def packing_policy(name, cmd, cpus, mem):
    """OfferLoop policy: as many (cpus, mem) tasks `cmd` as fit in the offer's unreserved
    resources."""
    def policy(offer):
        have = offer_amounts(offer)
        n = int(min(have.get("cpus", 0.0) / cpus, have.get("mem", 0.0) / mem) + 1e-9)
        return [launch_op([command_task(offer["agent_id"], cmd, name=name,
                                        resources=[sized(offer, "cpus", cpus), sized(offer, "mem", mem)])
                           for _ in range(n)])] if n else []
    return policy
