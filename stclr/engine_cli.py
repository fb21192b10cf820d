"""The engine's commands for ``stclr`` (hooked into :mod:`stclr.cli` with one call to :func:`add_engine_commands`).

    stclr pretrain  [--config FILE] [--preset NAME] [--resume] [key=value ...]
    stclr finetune  [--config FILE] [--preset NAME] [--resume] [key=value ...]
    stclr retrieve  [--config FILE] [--preset NAME] [--random-init] [key=value ...]
    stclr probe     [--config FILE] [--preset NAME] [--random-init] [key=value ...]

Settings come from the config's defaults (the paper's), then ``--preset`` (``course``, ``ssl``, ``paper``), then the
YAML file, then ``key=value`` overrides with dotted keys (``data.root=data/synthetic lr=1e-4``). ``--print-config``
shows the resolved configuration and exits. Every command is a thin wrapper over the package function with the
same config (``run_pretrain`` etc.), so notebooks, papermill recipes and the CLI share one implementation.
Multi-GPU: ``torchrun --standalone --nproc_per_node=4 -m stclr pretrain ...``.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from stclr.config import ConfigError, load_config, preset, to_dict

COMMANDS = {
    # command: (config kind, module, function, help)
    "pretrain": ("pretrain", "stclr.train", "run_pretrain", "self-supervised pretraining (STCLR and baselines)"),
    "finetune": ("finetune", "stclr.finetune", "run_finetune", "fine-tune for action recognition, video-level test"),
    "retrieve": ("retrieval", "stclr.retrieval", "run_retrieval", "nearest-neighbour video retrieval R@k"),
    "probe": ("linear_probe", "stclr.linear_probe", "run_linear_probe", "linear probe on frozen features"),
}


def config_from_args(kind: str, args: argparse.Namespace):
    """The resolved config of a command: defaults <- preset <- YAML file <- overrides <- flags."""
    base = preset(args.preset, kind) if args.preset else None
    overrides = list(args.overrides)
    if getattr(args, "resume", False):
        overrides.append("resume=true")
    if getattr(args, "random_init", False):
        overrides.append("random_init=true")
    return load_config(kind, args.config, overrides, base=base)


def _run(args: argparse.Namespace) -> int:
    import importlib

    kind, module, func, _ = COMMANDS[args.command]
    try:
        cfg = config_from_args(kind, args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0
    run_dir = getattr(importlib.import_module(module), func)(cfg)
    print(run_dir)
    return 0


def add_engine_commands(subparsers) -> None:
    """Add ``pretrain``, ``finetune``, ``retrieve`` and ``probe`` to an argparse sub-parser collection."""
    for name, (kind, _, _, help_) in COMMANDS.items():
        p = subparsers.add_parser(name, help=help_, description=help_ + ". " + __doc__.split("\n\n")[2].replace("\n", " "))
        p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, dotted keys (data.root=...)")
        p.add_argument("--config", "-c", default=None, help="YAML config file")
        p.add_argument("--preset", default=None, help="start from a preset: paper | ssl | course")
        p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
        if kind in ("pretrain", "finetune"):
            p.add_argument("--resume", action="store_true", help="continue the run in out_dir/run_name from last.pt")
        if kind in ("retrieval", "linear_probe"):
            p.add_argument("--random-init", action="store_true", help="evaluate an untrained (seeded) backbone")
        p.set_defaults(func=_run, command=name)

