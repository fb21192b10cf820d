"""Command line: ``stclr data synth|check|prepare``, ``stclr course`` (and the engine's commands as they land).

Every command is a thin wrapper over a package function with the same parameters, so notebooks, papermill
recipes and the CLI share one implementation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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


def _cmd_course(args: argparse.Namespace) -> int:
    from stclr.course import run_course

    return run_course(args.out, data_root=args.data, quick=args.quick, show_progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stclr", description="STCLR teaching kit")
    sub = p.add_subparsers(dest="command", required=True)

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

    co = sub.add_parser("course", help="run the whole course on the synthetic dataset (the main job)")
    co.add_argument("--out", type=Path, default=Path("runs/course"))
    co.add_argument("--data", type=Path, default=Path("data/synthetic"))
    co.add_argument("--quick", action="store_true", help="smallest settings, for a smoke test")
    co.add_argument("--quiet", action="store_true", help="no progress bars")
    co.set_defaults(func=_cmd_course)

    from stclr.batch import add_batch_command

    add_batch_command(sub)

    from stclr.engine_cli import add_engine_commands

    add_engine_commands(sub)
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
