#!/usr/bin/env bash
# The GPU checks and benchmarks, as one script for a lent GPU machine (about 5 minutes on an H100/H200, plus up
# to 9 for bench/epoch.py, whose data generation alone takes a few minutes on 16 cores).
#
#   bash bench/gpu.sh                 # results under $OUT (default bench/_work/gpu)
#
# Needs python3 with torch + torchvision. The engine checks (part 2) also need PyAV and the synthetic dataset:
# put an `av` wheel in .whl/ (it is installed into a temporary folder) and data/synthetic in the checkout;
# without them part 2 is skipped and says so. Nothing is fetched from the network.
#   1. bench/train_step.py --mode gpu: R3D-18 16x112x112 batch 38, fp32 vs bf16 (channels_last_3d), peak memory;
#      writes the train_step_gpu section into $OUT/benchmarks.md (copy it over docs/benchmarks.md afterwards).
#   1b. bench/epoch.py --mode gpu (needs PyAV): whole STCLR / Simplified TCLR epochs on a generated UCF-like set
#      (AVI and its H.264 copy; CPU vs device augmentation), activation checkpointing's memory and step time;
#      writes the epoch_gpu section into $OUT/benchmarks.md.
#   2. The engine on CUDA: course pretraining (bf16 autocast, channels_last_3d, cuDNN autotuning), an
#      interruption + --resume, fine-tuning and retrieval from the checkpoint, then R3D-18 16x112x112 batch 38
#      pretraining steps through the real loader (decode + augmentation in 12 workers) with clips/s and data wait.
set -u
. "$(dirname "$0")/_gpu_env.sh" bench/_work/gpu
$PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda)"
cp docs/benchmarks.md "$OUT/benchmarks.md"
status=0

echo "== 1. train step (synthetic tensors)"
timeout 280 $PY bench/train_step.py --mode gpu --out-md "$OUT/benchmarks.md" --json "$OUT/train_step_gpu.json" \
  || { echo "train_step.py failed ($?)"; status=1; }

echo "== 1b. whole epochs (bench/epoch.py --mode gpu: UCF-like AVI + H.264 data, real loader, R3D-18 batch 38)"
if $PY -c "import av" 2>/dev/null; then
  timeout 540 $PY bench/epoch.py --mode gpu --out-md "$OUT/benchmarks.md" --json "$OUT/epoch_gpu.json" \
    || { echo "epoch.py failed ($?)"; status=1; }
else
  echo "skipped bench/epoch.py: it needs PyAV to write and decode its videos (put an av wheel in .whl/)"
fi

echo "== 2. engine on CUDA"
if ! $PY -c "import av" 2>/dev/null || [ ! -f data/synthetic/splits/trainlist01.txt ]; then
  echo "skipped: needs PyAV (.whl/) and data/synthetic"
  exit $status
fi
R=$(mktemp -d)  # the runs of part 2 (scratch)
COMMON="device=cuda data.root=data/synthetic out_dir=$R show_progress=false"
step() {  # name, timeout, command...
  local name=$1 t=$2; shift 2
  local t0=$SECONDS
  if timeout "$t" "$@" >"$OUT/$name.log" 2>&1; then echo "ok   $name ($((SECONDS - t0)) s)"; else
    echo "FAIL $name ($((SECONDS - t0)) s)"; tail -n 15 "$OUT/$name.log"; status=1; fi
}
step pretrain 120 $PY -m stclr pretrain --preset course $COMMON run_name=course epochs=2 max_steps_per_epoch=4 data.num_workers=4
step resume 120 $PY -m stclr pretrain --preset course --resume $COMMON run_name=course epochs=3 max_steps_per_epoch=4 data.num_workers=4
step finetune 150 $PY -m stclr finetune --preset course $COMMON checkpoint=$R/course run_name=ft epochs=2 data.num_workers=4
step retrieve 120 $PY -m stclr retrieve --preset course $COMMON checkpoint=$R/course run_name=ret data.num_workers=4
step r3d18 200 $PY -m stclr pretrain $COMMON data.dataset=synthetic arch=r3d_18 run_name=r3d18 epochs=1 \
  max_steps_per_epoch=6 data.num_workers=12
$PY - "$R" <<'EOF' | tee "$OUT/engine.txt"
import json, sys
from pathlib import Path
R = Path(sys.argv[1])
def rows(p):
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []
for name in ("course", "r3d18"):
    for r in rows(R / name / "metrics.jsonl"):
        print(f"pretrain {name} epoch {r['epoch']}: loss {r['loss']:.3f}  clips/s {r['clips_per_s']:.0f}  "
              f"data wait {100 * r['data_wait_frac']:.0f}%  batches {r['batches']}")
    env = R / name / "env.json"
    if env.exists():
        e = json.loads(env.read_text())
        print(f"  env: device {e.get('device')} {e.get('device_name', '')}")
for name, keys in (("ft", ("video_accuracy", "clip_accuracy", "epochs_trained")), ("ret", ("R@1", "R@5"))):
    m = R / name / "metrics.json"
    if m.exists():
        d = json.loads(m.read_text())
        print(name, {k: d.get(k) for k in keys})
EOF
cp -r "$R/r3d18/metrics.jsonl" "$OUT/r3d18_metrics.jsonl" 2>/dev/null
exit $status
