"""EMA router (issue 4): exact EMA arithmetic, the prequential protocol under concurrency,
learning the best agent, the leakage rule, resume equivalence, price-table costs, CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import anyio
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog

from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import load_panel, validate_panel
from orch_eval.core.router import (
    AgentFeedback,
    Feedback,
    PrequentialRouter,
    RouterConfig,
    RouterLeakageError,
    apply_feedback,
    check_leakage,
    initial_stats,
    item_key,
    learned_entry,
    load_state,
    route,
)
from orch_eval.inspect.routing import apply_router_args
from orch_eval.inspect.solvers import orch
from orch_eval.stats.plots import plot_router_ema

TASK = "inspect_evals/mmlu_0_shot"


# ---- unit: arithmetic ---------------------------------------------------------------------------


def test_ema_updates_match_hand_computation() -> None:
    cfg = RouterConfig(alpha=0.5, prior_accuracy=0.5, prior_variance=0.25, w_lat=0.5, w_cost=0.25)
    stats = initial_stats(cfg, ["a", "b"])
    seq = [  # (correct, latency, cost) of agent 0; agent 1 is never consulted
        (True, 10.0, 0.25),
        (False, 20.0, 0.75),
        (True, 10.0, 0.0),
    ]
    for i, (c, lat, cost) in enumerate(seq):
        apply_feedback(stats, Feedback(index=i, agents=[AgentFeedback(0, c, lat, cost)]), cfg)
    a = stats.agents[0]
    # by hand: d=+.5 → acc .75, var .5*(.25+.5*.25)=.1875, lat 10 (first obs), cost .25
    #          d=-.75 → acc .375, var .5*(.1875+.5*.5625)=.234375, lat 15, cost .5
    #          d=+.625 → acc .6875, var .5*(.234375+.5*.390625)=.21484375, lat 12.5, cost .25
    assert (a.acc, a.var, a.lat, a.cost, a.n, a.m) == (0.6875, 0.21484375, 12.5, 0.25, 3, 3)
    b = stats.agents[1]
    assert (b.acc, b.var, b.lat, b.cost, b.n) == (0.5, 0.25, None, None, 0)
    # score = w_acc*acc - w_lat*lat/max(lat) - w_cost*cost/max(cost); agent 1 has no latency yet (0)
    r = route(cfg.model_copy(update={"top_k": 1}), stats, index=3)
    assert r.scores == [0.6875 - 0.5 * 1.0 - 0.25 * 1.0, 0.5]
    assert r.consult == [1]
    # ties go to panel order
    tie = route(RouterConfig(top_k=1), initial_stats(RouterConfig(), ["a", "b", "c"]), index=0)
    assert tie.consult == [0] and not tie.explored
    assert route(RouterConfig(top_k=2, explore_every=4), stats, index=8).consult == [0, 1]


def test_alpha_validation_names_the_field() -> None:
    for bad in (0, -0.1, 1.5):
        with pytest.raises(OrchConfigError, match=r"router\.alpha.*0 < alpha <= 1"):
            validate_panel({"agents": ["orchfake/gold"], "router": {"alpha": bad}}, source="t")
    assert validate_panel({"agents": ["orchfake/gold"], "router": {"alpha": 1}}, source="t").router.alpha == 1.0


def test_risk_mode_consults_until_best_lcb_beats_the_rest() -> None:
    cfg = RouterConfig(mode="risk", k_min=1, z=1.0, alpha=0.2, w_lat=0, w_cost=0)
    stats = initial_stats(cfg, ["a", "b", "c"])
    # cold start: wide, overlapping bounds → every agent
    assert route(cfg, stats, 1).consult == [0, 1, 2]
    for i in range(40):
        apply_feedback(
            stats,
            Feedback(index=i, agents=[AgentFeedback(0, True, 1.0, 0.0), AgentFeedback(1, i % 2 == 0, 1.0, 0.0),
                                      AgentFeedback(2, False, 1.0, 0.0)]),
            cfg,
        )
    r = route(cfg, stats, 41)
    assert r.consult == [0] and r.lcb is not None and r.lcb[0] > max(r.ucb[1:])  # type: ignore[index]
    assert route(cfg.model_copy(update={"k_min": 2}), stats, 41).consult == [0, 1]


def test_prequential_buffer_applies_in_order_and_respects_lag() -> None:
    cfg = RouterConfig(alpha=0.5, lag=1, top_k=1, w_lat=0, w_cost=0)

    async def main() -> list[Any]:
        r = PrequentialRouter(cfg, ["a", "b"], ["m/a", "m/b"], "digest")
        seen: list[Any] = []

        def fb(i: int, good: int) -> Feedback:
            return Feedback(index=i, sample_id=str(i), agents=[AgentFeedback(good, True, 1.0, 0.0),
                                                               AgentFeedback(1 - good, False, 1.0, 0.0)])

        async def item(i: int, delay: float) -> None:
            await r.wait_ready(i)
            rt, version = r.route(i)
            seen.append((i, rt.consult, version))
            await anyio.sleep(delay)
            r.submit(fb(i, good=1))
            await r.wait_applied(i)

        async with anyio.create_task_group() as tg:
            for i, d in enumerate([0.05, 0.0, 0.03, 0.0, 0.0]):
                tg.start_soon(item, i, d)
        return sorted(seen) + [r.version]

    out = anyio.run(main)
    # lag 1: items 0 and 1 see no feedback, item 2 sees item 0's, item 3 items 0-1, ...
    assert out[:5] == [(0, [0], 0), (1, [0], 0), (2, [1], 1), (3, [1], 2), (4, [1], 3)]
    assert out[5] == 5


def test_leakage_rule_messages() -> None:
    test_ids = ["mmlu_1", "mmlu_2", "mmlu_3"]
    same = [learned_entry(TASK, "test", ["x"])]
    with pytest.raises(RouterLeakageError, match=r"refused.*task inspect_evals/mmlu_0_shot split test.*force_router_state=true"):
        check_leakage(same, "mmlu_0_shot", None, test_ids, "s.json")
    overlap = [learned_entry("inspect_evals/mmlu_5_shot", "dev", ["mmlu_2", "other"])]
    with pytest.raises(RouterLeakageError, match=r"shares 1 item ids with the 3 items being evaluated"):
        check_leakage(overlap, TASK, None, test_ids, "s.json")
    assert check_leakage(overlap, TASK, None, test_ids, "s.json", force=True)  # warning, not an error
    ok = [learned_entry(TASK, "validation", ["mmlu_9"])]
    assert check_leakage(ok, TASK, None, test_ids, "s.json") == []
    assert item_key("mmlu_2") in overlap[0]["item_keys"]


def test_price_table_must_be_one_currency() -> None:
    with pytest.raises(OrchConfigError, match=r"prices\.m/a\.currency"):
        validate_panel(
            {"agents": ["m/a"], "currency": "USD", "prices": {"m/a": {"input": 1, "output": 2, "currency": "EUR"}}},
            source="t",
        )


def test_solver_args_set_router_fields() -> None:
    p = load_panel("router-on")
    assert apply_router_args(p, {"router": "off"}).router is None
    q = apply_router_args(p, {"top_k": 1, "router_state_out": "x.json", "force_router_state": "true"})
    assert q.router is not None and (q.router.top_k, q.router.state_out, q.router.force, q.router.explore_every) == (
        1, "x.json", True, 10
    )
    off = load_panel("router-off")
    assert off.router is None and apply_router_args(off, {"router": True}).router == RouterConfig()
    assert q.digest() != p.digest()  # top_k changes decisions; state_out alone would not
    assert apply_router_args(p, {"router_state_out": "y.json"}).digest() == p.digest()


# ---- end to end through Inspect -----------------------------------------------------------------


def agents_of(*ps: str, jitter: bool = False) -> list[str]:
    lat = ":latency=5:jitter=60" if jitter else ""
    return [f"orchfake/gold:p={p}:seed=r{i}{lat}" for i, p in enumerate(ps)]


def run(tmp: Path, roles: dict[str, Any], limit: int = 50, max_samples: int | None = None, **solver_args: Any) -> EvalLog:
    log = inspect_eval(
        TASK,
        model=None,
        solver=orch(cache=False, **solver_args),
        limit=limit,
        display="none",
        log_dir=str(tmp),
        model_roles=roles,
        max_samples=max_samples,
    )[0]
    assert log.status == "success", log.error
    return log


def routed(log: EvalLog) -> dict[str, dict[str, Any]]:
    out = {}
    for s in log.samples or []:
        d = s.metadata["orch"]
        r = d["router"]
        out[str(s.id)] = {
            "index": r["index"],
            "chosen": r["chosen"],
            "scores": r["scores"],
            "version": r["state_version"],
            "explored": r["explored"],
            "final": d["final"],
            "consulted": [a["consulted"] for a in d["agents"]],
        }
    return out


@pytest.mark.slow
def test_same_routing_at_max_samples_1_and_16(tmp_path: Path) -> None:
    roles = {"agents": agents_of("0.8", "0.6", "0.4", jitter=True), "merger": "orchfake/vote:latency=2:jitter=30"}
    args = {"router": {"top_k": 1, "explore_every": 7, "w_lat": 0.2, "w_cost": 0.0}}
    one = run(tmp_path / "one", roles, max_samples=1, **args)
    many = run(tmp_path / "many", roles, max_samples=16, **args)
    a, b = routed(one), routed(many)
    assert a == b
    assert len(a) == 50
    # the router's index is the sample's position in the eval's dataset order
    order = [str(i) for i in one.eval.dataset.sample_ids or []]
    assert all(order.index(sid) == r["index"] for sid, r in a.items())
    assert {r["version"] for r in a.values()} == set(range(50))  # lag 0: item t sees items < t
    # the routing is not trivial: it changes its choice during the run
    assert len({tuple(r["chosen"]) for r in a.values() if not r["explored"]}) > 1
    # and max_samples=16 really ran items concurrently (analyses of later items overlap earlier ones)
    spans = sorted((s.started_at, s.completed_at) for s in many.samples or [] if s.started_at and s.completed_at)
    assert sum(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1)) > 10


@pytest.mark.slow
def test_router_learns_the_best_agent(tmp_path: Path) -> None:
    # worst agent first in panel order, so cold-start ties favour it
    roles = {"agents": agents_of("0.3", "0.6", "0.9"), "merger": "orchfake/vote"}
    log = run(tmp_path, roles, max_samples=16, router={"top_k": 1, "explore_every": 5, "w_lat": 0.0, "w_cost": 0.0})
    items = sorted(routed(log).values(), key=lambda r: r["index"])
    late = [r for r in items if r["index"] >= 30]
    share = sum(2 in r["chosen"] for r in late) / len(late)
    late_routed = [r for r in late if not r["explored"]]
    share_routed = sum(r["chosen"] == [2] for r in late_routed) / len(late_routed)
    # measured: 20/20 = 100 % of items 30-49 consult the p=0.9 agent (16/16 of the non-exploring ones)
    assert share >= 0.9, share
    assert share_routed >= 0.9, share_routed
    assert all(r["consulted"] == [s in r["chosen"] for s in range(3)] for r in items)


@pytest.mark.slow
def test_resume_equals_one_run(tmp_path: Path) -> None:
    roles = {"agents": agents_of("0.8", "0.6", "0.4", jitter=True), "merger": "orchfake/vote"}
    cfg = {"top_k": 1, "explore_every": 6, "lag": 2}
    state = tmp_path / "state.json"
    first = run(tmp_path / "a", roles, limit=25, max_samples=8, router=cfg, router_state_out=str(state))
    saved = load_state(state)
    assert saved["version"] == 25 and saved["run"]["next_index"] == 25
    resumed = run(tmp_path / "b", roles, limit=50, max_samples=8, router=cfg, router_state_out=str(state))
    whole = run(tmp_path / "c", roles, limit=50, max_samples=8, router=cfg, router_state_out=str(tmp_path / "w.json"))
    r_first, r_resumed, r_whole = routed(first), routed(resumed), routed(whole)
    assert r_resumed == r_whole
    assert all(r_whole[k] == v for k, v in r_first.items())
    assert load_state(state)["stats"] == load_state(tmp_path / "w.json")["stats"]
    assert load_state(state)["version"] == 50
    # rerunning the same items on the finished state_out reproduces every decision (history window)
    again = run(tmp_path / "e", roles, limit=50, max_samples=8, router=cfg, router_state_out=str(state))
    assert routed(again) == r_whole and load_state(state)["version"] == 50
    # the same task in another order cannot continue that state: refused, not silently mixed
    other = inspect_eval(TASK, task_args={"shuffle": False}, model=None, limit=50, display="none",
                         solver=orch(cache=False, router=cfg, router_state_out=str(state)),
                         log_dir=str(tmp_path / "f"), model_roles=roles)[0]
    assert other.status == "error" and "different items or in a different order" in str(other.error)


@pytest.mark.slow
def test_calibrate_warm_start_and_leakage_refusal(tmp_path: Path) -> None:
    from orch_eval.cli import main

    panel = tmp_path / "fake.yaml"
    panel.write_text(
        "name: fake-router\nagents:\n  - orchfake/gold:p=0.3:seed=c0\n  - orchfake/gold:p=0.9:seed=c1\n"
        "merger: orchfake/vote\nrouter:\n  top_k: 1\n  w_lat: 0\n  w_cost: 0\n"
    )
    state = tmp_path / "cal.json"
    rc = main(["router", "calibrate", "--panel", str(panel), "--task", TASK, "--split", "validation",
               "--limit", "30", "--output", str(state), "--log-dir", str(tmp_path / "cal"), "--display", "plain"])
    assert rc == 0
    data = load_state(state)
    prov = data["provenance"]
    assert (prov["task"], prov["split"], prov["n_items"], prov["alpha"]) == (TASK, "validation", 30, 0.2)
    assert len(prov["items_sha256"]) == 64 and prov["panel_digest"] and prov["created"]
    # seeded order by default: MMLU validation is sorted by subject, so its first 30 items would
    # cover two subjects; the shuffled 30 spread over many, and are not the split's first 30
    from inspect_ai.log import read_eval_log

    from orch_eval.benchmarks import get_benchmark
    from orch_eval.inspect.routing import calibration_dataset

    assert prov["order"] == "seeded:0"
    cal_log = read_eval_log(prov["log"])
    cal_ids = [str(i) for i in cal_log.eval.dataset.sample_ids or []]
    split = list(calibration_dataset(TASK, "validation")[0])
    subject = {str(x.id): x.metadata["subject"] for x in split}
    assert len(cal_ids) == 30 and cal_ids != [str(x.id) for x in split[:30]]
    assert len({subject[i] for i in cal_ids}) >= 10 > len({x.metadata["subject"] for x in split[:30]})
    assert data["version"] == 30 and data["stats"]["agents"][1]["acc"] > data["stats"]["agents"][0]["acc"]
    # the shuffled validation split repeats evaluated test questions (the same content-hash id),
    # first at position 53: 60 calibration items leave it out and take position 60 instead
    assert prov["excluded_items"] == 27
    test_ids = {str(x.id) for x in get_benchmark("mmlu_0_shot").dataset("test")}
    shuffled = list(calibration_dataset(TASK, "validation")[0])
    random.Random(0).shuffle(shuffled)  # what Inspect's dataset.shuffle(seed=0) does
    shared = [i for i, x in enumerate(shuffled) if str(x.id) in test_ids]
    assert shared[:2] == [53, 86] and len(shared) == 27
    for flags, expect_shared in (([], False), (["--keep-shared"], True)):
        out = tmp_path / f"cal60{len(flags)}.json"
        assert main(["router", "calibrate", "--panel", str(panel), "--task", TASK, "--split", "validation",
                     "--limit", "60", "--output", str(out), "--log-dir", str(tmp_path / "cal60"), *flags]) == 0
        p60 = load_state(out)["provenance"]
        ids60 = [str(i) for i in read_eval_log(p60["log"]).eval.dataset.sample_ids or []]
        assert len(ids60) == 60 and ids60[:53] == [str(x.id) for x in shuffled[:53]]
        assert (str(shuffled[53].id) in ids60) is expect_shared
        assert (str(shuffled[60].id) in ids60) is not expect_shared
        assert p60["excluded_items"] == (None if expect_shared else 27)
    # calibrating on the evaluated split is refused
    assert main(["router", "calibrate", "--panel", str(panel), "--task", TASK, "--split", "test",
                 "--output", str(tmp_path / "x.json")]) == 2

    roles_free = {"panel": str(panel)}
    warm = run(tmp_path / "warm", {}, limit=10, router_state=str(state), **roles_free)
    first = routed(warm)
    # warm start: item 0 already prefers the calibrated 0.9 agent and counts the calibration updates
    assert min(first.values(), key=lambda r: r["index"])["chosen"] == [1]
    assert {r["version"] for r in first.values()} == set(range(30, 40))

    # a state learned on the evaluated test items (an eval run's state_out) is refused ...
    leaked = tmp_path / "leaked.json"
    run(tmp_path / "l1", {}, limit=10, router_state_out=str(leaked), **roles_free)
    log = inspect_eval(TASK, model=None, solver=orch(cache=False, router_state=str(leaked), **roles_free), limit=10,
                       display="none", log_dir=str(tmp_path / "l3"))[0]
    assert log.status == "error"
    assert "is refused" in str(log.error) and "leak the gold labels" in str(log.error)
    assert "force_router_state=true" in str(log.error)
    # ... unless forced
    forced = run(tmp_path / "l4", {}, limit=10, router_state=str(leaked), force_router_state=True, **roles_free)
    assert len(routed(forced)) == 10
    # the warm-start file is never written back by an eval run
    assert load_state(state) == data


@pytest.mark.slow
def test_price_table_costs_are_exact(tmp_path: Path) -> None:
    a0, a1 = agents_of("0.8", "0.5")
    panel = {
        "name": "priced",
        "agents": [a0, a1],
        "merger": "orchfake/vote",
        "currency": "EUR",
        "prices": {a0: {"input": 3.0, "output": 15.0}, a1: {"input": 0.5, "output": 1.5}, "orchfake/vote": {"input": 1.0, "output": 1.0}},
        "router": {"top_k": 1, "explore_every": 2, "alpha": 0.5, "w_acc": 0.0, "w_lat": 0.0, "w_cost": 1.0},
    }
    yaml_path = tmp_path / "priced.yaml"
    import yaml

    yaml_path.write_text(yaml.safe_dump(panel))
    out = tmp_path / "s.json"
    log = run(tmp_path / "log", {}, limit=6, max_samples=4, panel=str(yaml_path), router_state_out=str(out))
    samples = sorted(log.samples or [], key=lambda s: s.metadata["orch"]["router"]["index"])
    price = {a0: (3.0, 15.0), a1: (0.5, 1.5)}
    ema: list[float | None] = [None, None]
    for s in samples:
        d = s.metadata["orch"]
        total = 0.0
        for rec in d["agents"]:
            if not rec["consulted"]:
                assert rec["cost"] == 0.0
                continue
            pin, pout = price[rec["model"]]
            expected = (rec["usage"]["input_tokens"] * pin + rec["usage"]["output_tokens"] * pout) / 1_000_000
            assert rec["cost"] == expected
            total += expected
            prev = ema[rec["slot"]]
            ema[rec["slot"]] = expected if prev is None else 0.5 * prev + 0.5 * expected
        m = d["merge"]
        assert m["cost"] == (m["usage"]["input_tokens"] + m["usage"]["output_tokens"]) / 1_000_000
        assert d["cost"] == pytest.approx(total + m["cost"], abs=0, rel=1e-15)
        # the router saw the cost EMAs of the items before this one
        assert d["router"]["ema"]["cost"] == routed_cost_before(samples, d["router"]["index"], price)
    state = load_state(out)
    assert [s["cost"] for s in state["stats"]["agents"]] == ema
    # one analysis of the 3.0/15.0 agent costs more than the 0.5/1.5 one: with w_cost=1 the cheap one is routed
    assert samples[1].metadata["orch"]["router"]["chosen"] == [1]


def routed_cost_before(samples: list[Any], index: int, price: dict[str, tuple[float, float]]) -> list[float | None]:
    ema: list[float | None] = [None, None]
    for s in samples:
        d = s.metadata["orch"]
        if d["router"]["index"] >= index:
            break
        for rec in d["agents"]:
            if rec["consulted"]:
                pin, pout = price[rec["model"]]
                c = (rec["usage"]["input_tokens"] * pin + rec["usage"]["output_tokens"] * pout) / 1_000_000
                prev = ema[rec["slot"]]
                ema[rec["slot"]] = c if prev is None else 0.5 * prev + 0.5 * c
    return ema


@pytest.mark.slow
def test_shadow_mode_feeds_back_all_agents_and_plot(tmp_path: Path) -> None:
    roles = {"agents": agents_of("0.9", "0.6", "0.3"), "merger": "orchfake/vote"}
    out = tmp_path / "s.json"
    log = run(tmp_path / "log", roles, limit=12, router={"top_k": 1, "shadow": True}, router_state_out=str(out))
    state = load_state(out)
    assert [a["n"] for a in state["stats"]["agents"]] == [12, 12, 12]  # every agent, every item
    for s in log.samples or []:
        d = s.metadata["orch"]
        assert sum(a["consulted"] for a in d["agents"]) == 1  # the merger saw one analysis
        assert len(d["router"]["shadow_run"]["answers"]) == 3
    png = plot_router_ema(log, tmp_path / "ema.png")
    assert png.stat().st_size > 1000
    assert json.loads(json.dumps(state))  # plain JSON
