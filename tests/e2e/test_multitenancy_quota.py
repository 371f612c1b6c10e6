"""Quota (Mesos >= 1.9 QuotaConfig): a guarantee is met out of a cluster another role keeps
full, and a limit is never exceeded.

Guarantee: framework X (role `x`, no quota, weight 7) keeps four 2-cpu agents full of short
tasks (cpus 1, mem 256, `sleep 2`). X's weight puts q's fair share at 1 cpu, well below the
guarantee, so plain weighted DRF cannot pass for quota. The quota `q: cpus 4, mem 1024` is set
with UPDATE_QUOTA, then framework Y (role `q`) subscribes and takes every offer with a long
task. Nothing is preempted: Y gets X's resources as X's tasks end, and the allocator must give
freed resources to q (and hold headroom for it) before X, so within GUARANTEE_WAIT seconds Y
holds its guarantee, while X goes on running tasks on the rest.

Limit: a framework in role `x2` with `limits: cpus 1` takes every offer whole; sampled from
`/roles` (allocated + offered) and from its offers, it never holds more than one cpu.
"""

import time

import pytest

from helpers import (TERMINAL_STATES, get_json, operator_ok, quota_json, role_amount,
                     roles_by_name, wait_until)
from mesos_raw import OfferLoop, SchedulerStream, packing_policy, whole_offer_policy

AGENT_RES = "cpus:2;mem:512"
CLUSTER_CPUS = 8
GUARANTEE = {"cpus": 4, "mem": 1024}
X_WEIGHT = 7.0  # q's weighted fair share: 8 * 1/(1+7) = 1 cpu, well below the guarantee
LIMIT = {"cpus": 1}
GUARANTEE_WAIT = 20
EPS = 1e-6


def _quantities(qmap):
    """QuotaConfig guarantees/limits {"cpus": {"value": 4}} -> {"cpus": 4.0}."""
    return {k: float(v["value"] if isinstance(v, dict) else v) for k, v in (qmap or {}).items()}


def _quota_configs(url):
    got = operator_ok(url, "GET_QUOTA")
    assert got.get("type") == "GET_QUOTA", got
    return {c["role"]: c for c in got["get_quota"]["status"].get("configs", [])}


def _set_quota(url, role, guarantees=None, limits=None):
    operator_ok(url, "UPDATE_QUOTA",
                {"quota_configs": [dict(role=role, **quota_json(guarantees, limits))]},
                expect=(200, 202))


def _bad_states(stream):
    return sorted({s["state"] for s in stream.updates()
                   if s["state"] in TERMINAL_STATES and s["state"] != "TASK_FINISHED"})


@pytest.mark.cluster(agents=4, agent_resources=AGENT_RES)
@pytest.mark.deadline(150)
def test_quota_guarantee_is_met_from_a_full_cluster(cluster):
    url = cluster.master_url
    operator_ok(url, "UPDATE_WEIGHTS", {"weight_infos": [{"role": "x", "weight": X_WEIGHT}]},
                expect=(200, 202))
    x = SchedulerStream(url, name="e2e-quota-x", framework_info={"role": "x"}).subscribe()
    loops = {"x": OfferLoop(x, packing_policy("qx", "sleep 2", 1, 256), refuse_seconds=1.0).start()}
    y = None
    try:
        wait_until(lambda: role_amount(roles_by_name(url).get("x"), "cpus") >= CLUSTER_CPUS - EPS,
                   30, "framework X (role x) to fill the cluster")

        _set_quota(url, "q", guarantees=GUARANTEE)
        config = _quota_configs(url).get("q")
        assert config and _quantities(config.get("guarantees")) == GUARANTEE, f"GET_QUOTA q: {config}"
        legacy = get_json(url, "/quota")
        assert "q" in [c.get("role") for c in legacy.get("configs", [])], f"/quota: {legacy}"

        y = SchedulerStream(url, name="e2e-quota-y", framework_info={"role": "q"}).subscribe()
        loops["y"] = OfferLoop(y, whole_offer_policy("qy", "sleep 600"), refuse_seconds=1.0).start()
        t0 = time.monotonic()
        samples = []  # (t, q allocated cpus, q allocated mem, x cpus)

        def y_holds_guarantee():
            roles = roles_by_name(url)
            q = roles.get("q")
            sample = (round(time.monotonic() - t0, 1), role_amount(q, "cpus", "allocated"),
                      role_amount(q, "mem", "allocated"), role_amount(roles.get("x"), "cpus"))
            samples.append(sample)
            return sample[1] >= GUARANTEE["cpus"] - EPS and sample[2] >= GUARANTEE["mem"] - EPS

        wait_until(y_holds_guarantee, GUARANTEE_WAIT, lambda: (
            f"role q to hold its guarantee {GUARANTEE} in running tasks; "
            f"samples (t, q cpus, q mem, x cpus): {samples}"), interval=0.5)

        print(f"q reached its guarantee after {samples[-1][0]}s: {samples[-1]}")
        # X keeps running on the rest: a task of X starts after Y reached its guarantee.
        mark = len(x.events)
        x.wait_event(lambda e: e["type"] == "UPDATE" and e["update"]["status"]["state"] == "TASK_RUNNING",
                     20, "a task of X running after Y reached its guarantee", start=mark)
        roles = roles_by_name(url)
        q_cpus = role_amount(roles.get("q"), "cpus", "allocated")
        x_cpus = role_amount(roles.get("x"), "cpus", "allocated")
        assert q_cpus >= GUARANTEE["cpus"] - EPS, f"Y lost its guarantee: /roles q {roles.get('q')}"
        assert q_cpus + x_cpus <= CLUSTER_CPUS + EPS, f"more than the cluster allocated: {roles}"
        quota = roles["q"].get("quota") or {}
        assert float((quota.get("guarantee") or {}).get("cpus", 0)) == GUARANTEE["cpus"], (
            f"/roles q quota: {quota}")
    finally:
        for loop in loops.values():
            loop.stop()
    for name, loop in loops.items():
        assert not loop.errors, f"framework {name}: {loop.errors[:5]}"
    for stream in (x, y):
        if stream is not None:
            bad = _bad_states(stream)
            assert not bad, f"{stream.framework_info['name']}: tasks ended in {bad}"
            stream.close()


@pytest.mark.cluster(agents=4, agent_resources=AGENT_RES)
@pytest.mark.deadline(120)
def test_quota_limit_is_never_exceeded(cluster):
    url = cluster.master_url
    _set_quota(url, "x2", limits=LIMIT)
    config = _quota_configs(url).get("x2")
    assert config and _quantities(config.get("limits")) == LIMIT, f"GET_QUOTA x2: {config}"
    assert not _quantities(config.get("guarantees")), f"x2 has no guarantee: {config}"

    stream = SchedulerStream(url, name="e2e-quota-x2", framework_info={"role": "x2"}).subscribe()
    loop = OfferLoop(stream, whole_offer_policy("qx2", "sleep 2"), refuse_seconds=0.5).start()
    samples = []  # (t, x2 cpus allocated + offered)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 12:
            samples.append((round(time.monotonic() - t0, 1),
                            role_amount(roles_by_name(url).get("x2"), "cpus")))
            time.sleep(0.25)
    finally:
        loop.stop()
    assert not loop.errors, loop.errors[:5]
    print(f"x2 cpus: max {max(c for _, c in samples)} over {len(samples)} samples, {len(loop.offers)} offers")
    offer_cpus = [sum(r["scalar"]["value"] for r in o["resources"] if r["name"] == "cpus")
                  for o in loop.offers]
    finished = [s for s in stream.updates() if s["state"] == "TASK_FINISHED"]
    stream.close()

    assert max(offer_cpus, default=0) <= LIMIT["cpus"] + EPS, f"offers to x2 had cpus {offer_cpus}"
    assert max(c for _, c in samples) <= LIMIT["cpus"] + EPS, (
        f"role x2 exceeded its limit of {LIMIT}; samples (t, cpus): {samples}")
    assert max(c for _, c in samples) > 0 and finished, (
        f"x2 never ran anything (offers: {offer_cpus}; samples: {samples}): the limit test is vacuous")
