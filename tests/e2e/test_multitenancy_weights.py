"""Weighted DRF: roles `a` (weight 1) and `b` (weight 3) share eight one-cpu agents 1:3.

The weights are set with UPDATE_WEIGHTS before any framework exists. Then two greedy raw
v1 frameworks, one per role, subscribe back to back ("start together") and answer every
offer with one task using all of its cpus and mem. The agents are already registered, so
whichever framework the first allocation favours starts with most of the cluster; the tasks
are short (`sleep 2`), so resources keep coming back and the allocator re-decides who gets
each freed agent. After WARMUP seconds (a few task lifetimes) the allocation per role is
sampled from `/roles` (`resources` = allocated + offered, what DRF counts) for SAMPLE_SECS
seconds, and b's time-averaged share of the two must be close to 3/4.
"""

import time

import pytest

from helpers import (TERMINAL_STATES, get_json, operator_call, operator_ok, role_amount,
                     roles_by_name)
from mesos_raw import OfferLoop, SchedulerStream, whole_offer_policy

AGENTS = 8
WEIGHTS = {"a": 1.0, "b": 3.0}
WARMUP, SAMPLE_SECS, INTERVAL = 6, 20, 0.5
SHARE_B = (0.65, 0.85)  # ideal 0.75: 6 of 8 agents to b, 2 to a


def _weights(infos):
    return {w["role"]: float(w["weight"]) for w in infos}


def test_update_weights_is_visible_everywhere(cluster):
    url = cluster.master_url
    operator_ok(url, "UPDATE_WEIGHTS",
                {"weight_infos": [{"role": r, "weight": w} for r, w in WEIGHTS.items()]},
                expect=(200, 202))
    got = operator_ok(url, "GET_WEIGHTS")
    assert got.get("type") == "GET_WEIGHTS", got
    weights = _weights(got["get_weights"].get("weight_infos", []))
    assert {r: weights.get(r) for r in WEIGHTS} == WEIGHTS, f"GET_WEIGHTS: {got}"

    legacy = get_json(url, "/weights")  # Mesos: a JSON array of WeightInfo
    infos = legacy if isinstance(legacy, list) else legacy.get("weight_infos", legacy)
    assert isinstance(infos, list), f"/weights is not a list of WeightInfo: {legacy}"
    assert {r: _weights(infos).get(r) for r in WEIGHTS} == WEIGHTS, f"/weights: {legacy}"

    # A later update replaces the weight of the role it names and keeps the others.
    operator_ok(url, "UPDATE_WEIGHTS", {"weight_infos": [{"role": "a", "weight": 2.0}]},
                expect=(200, 202))
    weights = _weights(operator_ok(url, "GET_WEIGHTS")["get_weights"].get("weight_infos", []))
    assert (weights.get("a"), weights.get("b")) == (2.0, 3.0), weights

    # Invalid weights are refused and change nothing.
    for bad in (0.0, -1.0):
        resp = operator_call(url, "UPDATE_WEIGHTS", {"weight_infos": [{"role": "a", "weight": bad}]})
        assert resp.status_code == 400, f"UPDATE_WEIGHTS weight {bad} -> {resp.status_code}: {resp.text}"
    weights = _weights(operator_ok(url, "GET_WEIGHTS")["get_weights"].get("weight_infos", []))
    assert weights.get("a") == 2.0, weights


@pytest.mark.cluster(agents=AGENTS, agent_resources="cpus:1;mem:256")
@pytest.mark.deadline(150)
def test_weighted_drf_shares_converge_to_1_to_3(cluster):
    url = cluster.master_url
    operator_ok(url, "UPDATE_WEIGHTS",
                {"weight_infos": [{"role": r, "weight": w} for r, w in WEIGHTS.items()]},
                expect=(200, 202))

    streams, loops = {}, {}
    try:
        for role in WEIGHTS:
            streams[role] = SchedulerStream(url, name=f"e2e-weights-{role}",
                                            framework_info={"role": role}).subscribe()
        for role, stream in streams.items():
            loops[role] = OfferLoop(stream, whole_offer_policy(f"w-{role}", "sleep 2"),
                                    refuse_seconds=1.0).start()
        t0 = time.monotonic()
        time.sleep(WARMUP)

        samples = []  # (seconds since start, cpus of a, cpus of b)
        end = time.monotonic() + SAMPLE_SECS
        while time.monotonic() < end:
            roles = roles_by_name(url)
            samples.append((round(time.monotonic() - t0, 1),
                            role_amount(roles.get("a"), "cpus"), role_amount(roles.get("b"), "cpus")))
            time.sleep(INTERVAL)
        roles = roles_by_name(url)
        get_roles = {r["name"]: r for r in operator_ok(url, "GET_ROLES")["get_roles"].get("roles", [])}
    finally:
        for loop in loops.values():
            loop.stop()

    for role, loop in loops.items():
        assert not loop.errors, f"framework {role}: {loop.errors[:5]}"
    for role, stream in streams.items():
        states = [s["state"] for s in stream.updates()]
        bad = sorted({s for s in states if s in TERMINAL_STATES and s != "TASK_FINISHED"})
        assert not bad, f"framework in role {role} had tasks end in {bad} (tasks must be valid)"
        assert states.count("TASK_FINISHED") >= 2, (
            f"framework in role {role} finished {states.count('TASK_FINISHED')} task(s): "
            f"resources did not recycle through it; samples (t, a, b): {samples}")
        stream.close()

    for name, weight in WEIGHTS.items():
        assert float(roles[name]["weight"]) == weight, f"/roles {name}: {roles[name]}"
        assert float(get_roles[name]["weight"]) == weight, f"GET_ROLES {name}: {get_roles[name]}"

    total_a = sum(a for _, a, _ in samples)
    total_b = sum(b for _, _, b in samples)
    mean_used = (total_a + total_b) / len(samples)
    detail = f"samples (t, cpus a, cpus b): {samples}"
    assert mean_used >= AGENTS / 2, (
        f"the greedy frameworks held only {mean_used:.2f} cpus on average; {detail}")
    share_b = total_b / (total_a + total_b)
    print(f"time-averaged share of b: {share_b:.3f} over {len(samples)} samples, "
          f"mean cpus held: {mean_used:.2f}")
    assert SHARE_B[0] <= share_b <= SHARE_B[1], (
        f"time-averaged share of b = {share_b:.3f}, expected {SHARE_B} (weights 1:3); {detail}")
