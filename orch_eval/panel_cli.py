"""``orch-eval panel show``: print a panel's resolved settings and digest."""

from __future__ import annotations

import argparse
import json

import yaml


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("panel", help="show a panel preset, its digest and its resolved settings")
    psub = p.add_subparsers(dest="panel_command", metavar="SUBCOMMAND")
    show = psub.add_parser("show", help="print the resolved panel (YAML) and its digest")
    show.add_argument("panel", help="preset name (local) or YAML path")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    from orch_eval.core.panel import check_models, load_panel

    panel = check_models(load_panel(args.panel), source=args.panel)
    data = panel.describe()
    print(json.dumps(data, indent=2) if args.json else yaml.safe_dump(data, sort_keys=False), end="")
    return 0
