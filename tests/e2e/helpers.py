"""Shared helpers for the end-to-end suite: waiting, HTTP, task builders, pymesos
driver lifecycle, sandbox lookup and the avmesos-cli runner.

Every wait here is bounded. Timeouts are in seconds and are multiplied by
CORRAL_E2E_TIMEOUT_SCALE (default 1) for slow machines.
"""

import base64
import os
import subprocess
import sys
import threading
import time
import uuid

import requests

SCALE = float(os.environ.get("CORRAL_E2E_TIMEOUT_SCALE", "1"))

TERMINAL_STATES = frozenset({
    "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
    "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNREACHABLE",
    "TASK_UNKNOWN",
})
ACTIVE_STATES = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})


def scaled(seconds):
    return seconds * SCALE


def wait_until(fn, timeout, desc, interval=0.2):
    """Call fn() until it returns a truthy value; return that value.

    Raises AssertionError naming `desc` (plus the last value / exception)
    after `timeout` (scaled) seconds; `desc` may be a callable returning the
    text, evaluated then (to report what was seen last).
    """
    deadline = time.monotonic() + scaled(timeout)
    last, last_exc = None, None
    while True:
        try:
            last = fn()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - reported below
            last_exc = exc
        if time.monotonic() >= deadline:
            if callable(desc):
                desc = desc()
            raise AssertionError(
                f"timed out after {scaled(timeout):.0f}s waiting for {desc}; "
                f"last value: {_short(last)}; last error: {last_exc!r}")
        time.sleep(interval)


def _short(value, limit=800):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


# ---------------------------------------------------------------- HTTP ----

def http_get(base_url, path, params=None, timeout=10, **kwargs):
    return requests.get(base_url + path, params=params, timeout=timeout, **kwargs)


def get_json(base_url, path, params=None, timeout=10):
    """GET base_url+path and return its JSON, asserting a 200."""
    resp = http_get(base_url, path, params=params, timeout=timeout)
    assert resp.status_code == 200, (
        f"GET {path} {params or ''} -> {resp.status_code}: {resp.text[:500]}")
    try:
        return resp.json()
    except ValueError as exc:
        raise AssertionError(f"GET {path} did not return JSON: {resp.text[:500]!r}") from exc


def framework_tasks(master_url, framework_id):
    """All tasks (active, completed, unreachable) of one framework per /tasks."""
    tasks = get_json(master_url, "/tasks", {"limit": "-1", "order": "asc"})["tasks"]
    return [t for t in tasks if t.get("framework_id") == framework_id]


def wait_master_task_states(master_url, framework_id, expected, timeout=30):
    """Wait until /tasks lists exactly `expected` ({task_id: state}) for the framework; return the tasks."""
    seen = {}

    def done():
        seen["tasks"] = framework_tasks(master_url, framework_id)
        return {t["id"]: t["state"] for t in seen["tasks"]} == expected

    wait_until(done, timeout, lambda: (
        f"/tasks?limit=-1 to list {len(expected)} task(s) of {framework_id} in their final states; "
        f"it lists {sorted((t['id'], t['state']) for t in seen.get('tasks', []))}"))
    return seen["tasks"]


def find_framework(master_url, framework_id):
    """Return ('active'|'completed', framework-json) from /frameworks, or (None, None)."""
    data = get_json(master_url, "/frameworks")
    for key, label in (("frameworks", "active"), ("completed_frameworks", "completed")):
        for fw in data.get(key, []):
            if fw.get("id") == framework_id:
                return label, fw
    return None, None


# ------------------------------------------------------- task builders ----

def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text)


def scalar(name, value):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def port_range(begin, end, name="ports"):
    return {"name": name, "type": "RANGES", "ranges": {"range": [{"begin": begin, "end": end}]}}


def cpus_mem(cpus=0.1, mem=32):
    return [scalar("cpus", cpus), scalar("mem", mem)]


def offer_scalar(offer, name):
    """Sum of the scalar resource `name` in an offer (unreserved or not)."""
    return sum(r.get("scalar", {}).get("value", 0.0)
               for r in offer.get("resources", []) if r.get("name") == name)


def command_task(agent_id, cmd, name="e2e", cpus=0.1, mem=32, task_id=None, **extra):
    """A TaskInfo running `cmd` with the built-in command executor."""
    if isinstance(agent_id, str):
        agent_id = {"value": agent_id}
    task = {
        "name": name,
        "task_id": {"value": task_id or f"{name}-{uuid.uuid4()}"},
        "agent_id": agent_id,
        "command": {"value": cmd, "shell": True},
        "resources": cpus_mem(cpus, mem),
    }
    task.update(extra)
    return task


# ------------------------------------------------------------- pymesos ----

def wait_pymesos(event, driver, timeout):
    """event.wait(timeout), but fail at once if the pymesos driver aborts.

    pymesos reports an IO-thread failure with _thread.interrupt_main(), which
    does not wake a blocked wait; short waits let it (and `aborted`) surface.
    """
    deadline = time.monotonic() + scaled(timeout)
    while not event.wait(0.25):
        if driver.aborted:
            raise AssertionError("the pymesos driver aborted (its IO thread died: see "
                                 "'Thread abort' in the captured log)")
        if time.monotonic() >= deadline:
            return False
    return True


def stop_pymesos_driver(driver, failover=False, timeout=30):
    """driver.stop() (TEARDOWN unless failover) and a join bounded in time."""
    driver.stop(failover=failover)
    joiner = threading.Thread(target=driver.join, name="pymesos-join", daemon=True)
    joiner.start()
    joiner.join(scaled(timeout))
    assert not joiner.is_alive(), f"pymesos driver did not stop within {timeout}s"


# ------------------------------------------------------------ sandboxes ----

def agent_executors(agent_state):
    """Yield every executor object in an agent /state (live and completed)."""
    for fkey in ("frameworks", "completed_frameworks"):
        for fw in agent_state.get(fkey, []):
            for ekey in ("executors", "completed_executors"):
                for ex in fw.get(ekey, []):
                    yield fw, ex


def find_sandbox(agent_url, task_id=None, executor_id=None):
    """Sandbox directory of the executor that ran `task_id` (or has `executor_id`)."""
    state = get_json(agent_url, "/state")
    for _fw, ex in agent_executors(state):
        if executor_id is not None and ex.get("id") == executor_id:
            return ex.get("directory")
        if task_id is not None:
            if ex.get("id") == task_id:  # command executors reuse the task id
                return ex.get("directory")
            for tkey in ("tasks", "queued_tasks", "completed_tasks"):
                if any(t.get("id") == task_id for t in ex.get(tkey, [])):
                    return ex.get("directory")
    return None


def read_sandbox_file(agent_url, path, limit=4000):
    """Best-effort tail of a sandbox file through the agent /files/read (for diagnostics)."""
    try:
        size = get_json(agent_url, "/files/read", {"path": path, "offset": -1})["offset"]
        offset = max(0, size - limit)
        return get_json(agent_url, "/files/read",
                        {"path": path, "offset": offset, "length": limit})["data"]
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return f"<cannot read {path}: {exc!r}>"


def sandbox_diagnostics(agent_urls, task_id=None, executor_id=None):
    """Text with the tails of the sandbox stdout/stderr, for assertion messages."""
    for url in agent_urls:
        try:
            sandbox = find_sandbox(url, task_id=task_id, executor_id=executor_id)
        except Exception as exc:  # noqa: BLE001
            return f"<agent {url} /state failed: {exc!r}>"
        if sandbox:
            return "\n".join(f"--- {sandbox}/{name} ---\n{read_sandbox_file(url, f'{sandbox}/{name}')}"
                             for name in ("stdout", "stderr"))
    return f"<no sandbox found for task {task_id} / executor {executor_id}>"


# ---------------------------------------------------------- avmesos-cli ----

def run_mesos_cli(config_path, *args, timeout=60):
    """Run `python -m avmesos.cli.mesos-cli ARGS` (the CLI has no console script)."""
    env = dict(os.environ, MESOS_CLI_CONFIG=str(config_path))
    return subprocess.run(
        [sys.executable, "-m", "avmesos.cli.mesos-cli", *args],
        env=env, capture_output=True, text=True, timeout=scaled(timeout), check=False)


# ----------------------------------------------- operator API and roles ----

def operator_call(master_url, call_type, payload=None, timeout=10):
    """POST {"type": T, "<t>": payload} to the master's /api/v1 (JSON); return the response."""
    body = {"type": call_type}
    if payload is not None:
        body[call_type.lower()] = payload
    return requests.post(master_url + "/api/v1", json=body,
                         headers={"Accept": "application/json"}, timeout=scaled(timeout))


def operator_ok(master_url, call_type, payload=None, expect=(200,)):
    """operator_call() asserting a status in `expect`; the JSON reply (None when empty)."""
    resp = operator_call(master_url, call_type, payload)
    assert resp.status_code in expect, (
        f"{call_type} -> {resp.status_code} (expected {expect}): {resp.text[:500]}")
    return resp.json() if resp.content else None


def roles_by_name(master_url):
    """{role name: role object} from the legacy GET /roles."""
    return {r["name"]: r for r in get_json(master_url, "/roles")["roles"]}


def role_amount(role_obj, name, field="resources"):
    """A scalar (e.g. cpus) in a /roles object's flat map `field` (`resources` =
    allocated + offered, `allocated`, `offered`, `reserved`); 0 when absent."""
    return float(((role_obj or {}).get(field) or {}).get(name) or 0.0)


def quota_json(guarantees=None, limits=None):
    """{"cpus": 4, "mem": 1024} -> QuotaConfig maps {"cpus": {"value": 4.0}, ...}."""
    out = {}
    for key, quantities in (("guarantees", guarantees), ("limits", limits)):
        if quantities:
            out[key] = {k: {"value": float(v)} for k, v in quantities.items()}
    return out


# -------------------------------------------------- reserved resources ----

def reservation(role, principal=None):
    res = {"type": "DYNAMIC", "role": role}
    if principal:
        res["principal"] = principal
    return res


def reserved_scalar(name, value, role, principal=None, allocation_role=None):
    """A scalar dynamically reserved to `role` (refinement format)."""
    res = scalar(name, value)
    res["reservations"] = [reservation(role, principal)]
    if allocation_role:
        res["allocation_info"] = {"role": allocation_role}
    return res


def reserved_role(resource):
    """The role a resource is reserved to (innermost reservation, or the pre-1.4
    `role` field), or None when unreserved."""
    if resource.get("reservations"):
        return resource["reservations"][-1].get("role")
    role = resource.get("role")
    return None if role in (None, "*") else role


def persistence_id(resource):
    return ((resource.get("disk") or {}).get("persistence") or {}).get("id")


def offer_amounts(offer, reserved_to=None):
    """{name: total} of the offer's scalars that are unreserved (reserved_to=None)
    or reserved to `reserved_to`; persistent volumes are left out."""
    totals = {}
    for r in offer.get("resources", []):
        if r.get("type") == "SCALAR" and not persistence_id(r) and reserved_role(r) == reserved_to:
            totals[r["name"]] = totals.get(r["name"], 0.0) + r["scalar"]["value"]
    return totals


def offer_resources(offer, names=("cpus", "mem"), reserved_to=None):
    """Copies of the offer's `names` resources that are unreserved (reserved_to=None) or
    reserved to `reserved_to`, volumes excluded: a task using exactly them uses all of them."""
    return [dict(r) for r in offer.get("resources", [])
            if r["name"] in names and not persistence_id(r) and reserved_role(r) == reserved_to]


def sized(offer, name, value):
    """An unreserved scalar of `value` allocated like the offer (its allocation_info)."""
    res = scalar(name, value)
    if offer.get("allocation_info"):
        res["allocation_info"] = dict(offer["allocation_info"])
    return res


def describe_offer(offer):
    """A short text of an offer's resources: name=value[@reserved-role][#volume-id]."""
    parts = []
    for r in offer.get("resources", []):
        text = f"{r['name']}={r.get('scalar', {}).get('value', r.get('ranges', ''))}"
        if reserved_role(r):
            text += f"@{reserved_role(r)}"
        if persistence_id(r):
            text += f"#{persistence_id(r)}"
        parts.append(text)
    return f"{offer.get('agent_id', {}).get('value')}[{', '.join(parts)}]"
