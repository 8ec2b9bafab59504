"""``orch-eval panel show``: print a panel's resolved settings and digest."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

HELP = "show a panel preset, its digest and its resolved settings"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser("panel", help=HELP, description=HELP)
    psub = p.add_subparsers(dest="panel_command", metavar="SUBCOMMAND")
    show = psub.add_parser("show", help="print the resolved panel (YAML) and its digest")
    show.add_argument("panel", help="preset name (local) or YAML path")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(func=run_show)

    def show_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=show_help)
    return p


def run_show(args: argparse.Namespace) -> int:
    from orch_eval.core.panel import check_models, load_panel

    panel = check_models(load_panel(args.panel), source=args.panel)
    data = panel.describe()
    print(json.dumps(data, indent=2) if args.json else yaml.safe_dump(data, sort_keys=False), end="")
    return 0
