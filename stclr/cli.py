"""The command line, every command of it: ``stclr data synth|check|prepare``, ``stclr pretrain|finetune|retrieve|probe``
(the engine), ``stclr batch`` (papermill recipes) and ``stclr course``; ``python -m stclr`` is the same.

    stclr pretrain  [--config FILE] [--preset NAME] [--resume] [key=value ...]
    stclr finetune  [--config FILE] [--preset NAME] [--resume] [key=value ...]
    stclr retrieve  [--config FILE] [--preset NAME] [--random-init] [key=value ...]
    stclr probe     [--config FILE] [--preset NAME] [--random-init] [key=value ...]

Engine settings come from the config's defaults (the paper's), then ``--preset`` (``course``, ``ssl``, ``paper``),
then the YAML file, then ``key=value`` overrides with dotted keys (``data.root=data/synthetic lr=1e-4``).
``--print-config`` shows the resolved configuration and exits. Every command is a thin wrapper over the package
function with the same parameters (``run_pretrain``, ``run_batch``, ...), so notebooks, papermill recipes and the
command line share one implementation. Multi-GPU: ``torchrun --standalone --nproc_per_node=4 -m stclr pretrain ...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from stclr.config import ENGINE_COMMANDS

# ------------------------------------------------------------------------------------------------------- data


def _cmd_data_synth(args: argparse.Namespace) -> int:
    from stclr.data.synthetic import SynthConfig, make_synthetic_dataset

    cfg = SynthConfig(
        num_classes=args.classes,
        videos_per_class=args.videos_per_class,
        num_frames=args.frames,
        size=args.size,
        seed=args.seed,
    )
    summary = make_synthetic_dataset(args.root, cfg, overwrite=args.overwrite, show_progress=not args.quiet)
    print(summary)
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from stclr.data.prepare import check_dataset

    report = check_dataset(args.root, show_progress=not args.quiet)
    print(report.summary())
    return 0 if report.ok else 1


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from stclr.data.prepare import prepare_dataset

    report = prepare_dataset(
        args.src, args.dst, short_side=args.short_side, gop=args.gop, crf=args.crf, show_progress=not args.quiet
    )
    print(report.summary())
    return 0 if report.ok else 1


def _add_data_commands(sub) -> None:
    data = sub.add_parser("data", help="datasets: generate, check, transcode").add_subparsers(dest="data_cmd", required=True)
    s = data.add_parser("synth", help="generate the synthetic motion dataset (UCF-101 layout)")
    s.add_argument("root", type=Path)
    s.add_argument("--classes", type=int, default=None, help="number of motion classes (default: the kit's default)")
    s.add_argument("--videos-per-class", type=int, default=None)
    s.add_argument("--frames", type=int, default=None, help="frames per video")
    s.add_argument("--size", type=int, default=None, help="frame side in pixels")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overwrite", action="store_true")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_data_synth)

    c = data.add_parser("check", help="decode every video of a dataset tree and report what is wrong")
    c.add_argument("root", type=Path)
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=_cmd_data_check)

    r = data.add_parser("prepare", help="transcode a dataset tree to H.264 MP4 for fast exact seeking (resumable)")
    r.add_argument("src", type=Path)
    r.add_argument("dst", type=Path)
    r.add_argument("--short-side", type=int, default=128)
    r.add_argument("--gop", type=int, default=16)
    r.add_argument("--crf", type=int, default=18)
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=_cmd_data_prepare)


# ----------------------------------------------------------------------------------------------------- engine


def config_from_args(kind: str, args: argparse.Namespace):
    """The resolved config of an engine command: defaults <- preset <- YAML file <- overrides <- flags."""
    from stclr.config import load_config, preset

    base = preset(args.preset, kind) if args.preset else None
    overrides = list(args.overrides)
    if getattr(args, "resume", False):
        overrides.append("resume=true")
    if getattr(args, "random_init", False):
        overrides.append("random_init=true")
    return load_config(kind, args.config, overrides, base=base)


def _cmd_engine(args: argparse.Namespace) -> int:
    import yaml

    from stclr.config import ConfigError, to_dict

    kind, module, func, _ = ENGINE_COMMANDS[args.command]
    try:
        cfg = config_from_args(kind, args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0
    print(getattr(importlib.import_module(module), func)(cfg))
    return 0


def _add_engine_commands(sub) -> None:
    how = __doc__.split("\n\n")[2].replace("\n", " ")
    for name, (kind, _, _, help_) in ENGINE_COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=f"{help_}. {how}")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, dotted keys (data.root=...)")
        p.add_argument("--config", "-c", default=None, help="YAML config file")
        p.add_argument("--preset", default=None, help="start from a preset: paper | ssl | course")
        p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
        if kind in ("pretrain", "finetune"):
            p.add_argument("--resume", action="store_true", help="continue the run in out_dir/run_name from last.pt")
        if kind in ("retrieval", "linear_probe"):
            p.add_argument("--random-init", action="store_true", help="evaluate an untrained (seeded) backbone")
        p.set_defaults(func=_cmd_engine, command=name)


# ------------------------------------------------------------------------------------------------ batch, course


def _gpu_ids(text: str) -> list[str]:
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    if not gpus:
        raise argparse.ArgumentTypeError("expected comma-separated GPU ids, e.g. 0,1")
    return gpus


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cmd_batch(args: argparse.Namespace) -> int:
    """Load, validate, run; 2 for a recipe error, 1 if a point failed, 0 otherwise."""
    from stclr.batch import run_batch
    from stclr.recipes import RecipeError, load_recipe, parse_overrides

    try:
        recipe = load_recipe(args.recipe, smoke=args.smoke, out=args.out, overrides=parse_overrides(args.overrides))
        result = run_batch(
            recipe, jobs=args.jobs, gpus=args.gpus, dry_run=args.dry_run, force=args.force, show_progress=not args.quiet
        )
    except RecipeError as e:
        print(f"stclr batch: {e}", file=sys.stderr)
        return 2
    return result.exit_code


def _cmd_course(args: argparse.Namespace) -> int:
    from stclr.course import run_course

    return run_course(args.out, data_root=args.data, quick=args.quick, show_progress=not args.quiet)


def _add_batch_and_course(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="run a notebook over a parameter grid (papermill recipe, resumable)",
        description="Run a papermill recipe (experiments/README.md): every grid point into OUT/<point>/, "
        "skipping points already done; summary.csv and summary.md at the end.",
    )
    p.add_argument("recipe", type=Path, help="recipe YAML file")
    p.add_argument("--jobs", "-j", type=_positive_int, default=None,
                   help="points run at once (default: number of --gpus, or 1)")
    p.add_argument("--gpus", type=_gpu_ids, default=None,
                   help="GPU ids, e.g. 0,1: each running point sees one (CUDA_VISIBLE_DEVICES)")
    p.add_argument("--dry-run", action="store_true", help="validate and list what would run or be skipped; run nothing")
    p.add_argument("--smoke", action="store_true", help="use the recipe's smoke block (small settings, own folder)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the recipe's 'out')")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a notebook parameter for every point (YAML value); repeatable")
    p.add_argument("--force", action="store_true", help="rerun points that are already done")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_batch)

    co = sub.add_parser("course", help="run the whole course on the synthetic dataset (the main job)")
    co.add_argument("--out", type=Path, default=Path("runs/course"))
    co.add_argument("--data", type=Path, default=Path("data/synthetic"))
    co.add_argument("--quick", action="store_true", help="smallest settings, for a smoke test")
    co.add_argument("--quiet", action="store_true", help="no progress bars")
    co.set_defaults(func=_cmd_course)


# ------------------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stclr", description="STCLR teaching kit")
    sub = p.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_batch_and_course(sub)
    _add_engine_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a command; the exit status: 0 done, 1 an unexpected error (traceback), 2 bad input, 74 a checkpoint could
    not be written (disk full: :class:`stclr.checkpoint.CheckpointWriteError`), 143 / 130 preempted by SIGTERM /
    SIGINT after saving a resumable checkpoint (:class:`stclr.runinfo.Preempted`, a ``SystemExit`` that passes
    through here), 130 also for a Ctrl-C outside a training loop."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        from stclr.checkpoint import CheckpointWriteError

        if not isinstance(e, CheckpointWriteError):
            raise
        # disk full (or another I/O error) while checkpointing: the message says what to free; 74 is sysexits'
        # EX_IOERR, so a job script can tell it from a crash (1), bad input (2) and preemption (143 / 130)
        print(f"stclr: error: {e}", file=sys.stderr)
        return 74
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        # bad input (a path, a split file, a parameter): a clear one-line message, not a traceback
        print(f"stclr: error: {e}", file=sys.stderr)
        return 2
