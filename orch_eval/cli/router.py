"""``orch-eval router``: calibrate a warm-start router state, show one, plot a run's EMAs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from orch_eval.cli.argtypes import positive_int

HELP = "calibrate and inspect EMA router state"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "router",
        help=HELP,
        description="EMA router state: learn a warm start on a calibration split, show it, plot a run.",
    )
    sub = parser.add_subparsers(dest="router_command", metavar="SUBCOMMAND")

    cal = sub.add_parser(
        "calibrate",
        help="learn a warm-start state on a calibration split (never the evaluated one)",
        description=(
            "Run the panel's agents (no merger) on a calibration split through Inspect and write the "
            "router state learned from their feedback, applied in dataset order. Splits: MMLU "
            "validation or dev, MMLU-Pro validation, GSM8K train."
        ),
    )
    cal.add_argument("--panel", required=True, help="panel preset name or YAML path (solvers/router-on.yaml)")
    cal.add_argument(
        "--task",
        required=True,
        help="inspect_evals/mmlu_0_shot, inspect_evals/mmlu_pro or inspect_evals/gsm8k",
    )
    cal.add_argument("--split", required=True, help="calibration split (validation, dev or train)")
    cal.add_argument("--output", required=True, help="state file to write (JSON)")
    cal.add_argument(
        "--limit", type=positive_int, default=None, help="first N calibration items only (after --order)"
    )
    cal.add_argument(
        "--order",
        choices=["seeded", "dataset"],
        default="seeded",
        help="seeded (default): shuffle the split with --seed first (MMLU splits are sorted by subject); "
        "dataset: the split's own order",
    )
    cal.add_argument("--seed", type=int, default=0, help="shuffle seed of --order seeded (default 0)")
    cal.add_argument(
        "--keep-shared",
        action="store_true",
        help="keep calibration items whose ids also occur in the evaluated split (by default they are left "
        "out: MMLU repeats some test questions in validation/dev, and the leakage rule would refuse the "
        "state)",
    )
    cal.add_argument("--log-dir", default=None, help="Inspect log folder of the calibration run")
    cal.add_argument("--max-samples", type=positive_int, default=None, help="samples run concurrently")
    cal.add_argument("--no-cache", action="store_true", help="do not use Inspect's model cache")
    cal.add_argument(
        "--display", default=None, help="Inspect display: full, rich, plain, none (default: Inspect's)"
    )
    cal.set_defaults(func=run_calibrate)

    show = sub.add_parser("show", help="print a state file's provenance and EMAs")
    show.add_argument("state", help="router state JSON")
    show.add_argument("--json", action="store_true", help="print the whole file")
    show.set_defaults(func=run_show)

    check = sub.add_parser(
        "check", help="would this state be accepted as a warm start for a task? (leakage rule)"
    )
    check.add_argument("state")
    check.add_argument("--task", required=True)
    check.add_argument("--split", default=None, help="evaluated split (default: the task's usual one)")
    check.add_argument("--force", action="store_true")
    check.set_defaults(func=run_check)

    plot = sub.add_parser("plot", help="plot each agent's EMA accuracy over a routed run")
    plot.add_argument("log", help="Inspect .eval log of an orch run with the router on")
    plot.add_argument("--output", required=True, help="image file (png, pdf, svg)")
    plot.set_defaults(func=run_plot)

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=show_help)
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    from orch_eval.core.panel import load_panel
    from orch_eval.inspect.routing import calibrate

    panel = load_panel(args.panel)
    data = calibrate(
        panel,
        task=args.task,
        split=args.split,
        output=args.output,
        limit=args.limit,
        log_dir=args.log_dir,
        cache=not args.no_cache,
        max_samples=args.max_samples,
        order=args.order,
        seed=args.seed,
        display=args.display,
        exclude_eval_split=not args.keep_shared,
    )
    _print_summary(data)
    print(f"wrote {args.output}")
    return 0


def _print_summary(data: dict[str, Any]) -> None:
    prov = data.get("provenance") or {}
    print(f"router state version {data['version']} (alpha {data['alpha']}, panel {data.get('panel_digest')})")
    if prov:
        print(
            f"learned on {prov.get('task')} split {prov.get('split')}: {prov.get('n_items')} items "
            f"(order {prov.get('order', 'dataset')}, sha256 {str(prov.get('items_sha256'))[:16]}...)"
        )
        if prov.get("excluded_items"):
            print(f"  left out {prov['excluded_items']} items whose ids also occur in the evaluated split")
    for entry in data.get("learned_on") or []:
        print(f"  source: {entry.get('task')} / {entry.get('split')} ({entry.get('n_items')} items)")
    stats = data["stats"]["agents"]
    width = max(len(a) for a in data["agents"])
    print(f"  {'agent'.ljust(width)}  {'acc':>6} {'sd':>6} {'n':>5} {'latency':>9} {'cost':>10}")
    for label, s in zip(data["agents"], stats, strict=False):
        lat = "-" if s["lat"] is None else f"{s['lat']:.3f}"
        cost = "-" if s["cost"] is None else f"{s['cost']:.6f}"
        print(
            f"  {label.ljust(width)}  {s['acc']:6.3f} {s['var'] ** 0.5:6.3f} {s['n']:5d} {lat:>9} {cost:>10}"
        )
    run = data.get("run")
    if run:
        print(f"  run progress: {run['next_index']} items applied (task {run['key'].get('task')})")


def run_show(args: argparse.Namespace) -> int:
    from orch_eval.core.router import load_state

    data = load_state(args.state)
    if args.json:
        print(json.dumps(data, indent=1, sort_keys=True))
    else:
        _print_summary(data)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from orch_eval.core.router import check_leakage, load_state

    data = load_state(args.state)
    learned = data.get("learned_on") or []
    # ids of the evaluated split are not loaded here: the rule is checked on task and split names
    warnings = check_leakage(learned, args.task, args.split, [], args.state, force=args.force)
    for w in warnings:
        print(w)
    print(f"{args.state}: accepted as a warm start for {args.task}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from orch_eval.stats.plots import plot_router_ema

    out = plot_router_ema(args.log, args.output)
    print(f"wrote {out}")
    return 0
