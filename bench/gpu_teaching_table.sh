#!/usr/bin/env bash
# The teaching table (bench/teaching_table.py: 7 methods x 5 seeds) on a lent GPU machine: ~2.5 h on 2 CPU cores,
# minutes on a 16-core GPU machine, where each run's model works on the GPU (fp32, as on the CPU) and its
# augmentation on one CPU core. Budgets are optimiser steps, so the table measures the same thing on either machine;
# the numbers differ from a CPU run only through floating-point order.
#
#   bash bench/gpu_teaching_table.sh        # results under $OUT (default bench/_work/gpu_tt)
#
# Needs python3 with torch + torchvision + matplotlib, an `av` wheel in .whl/ (installed into a temporary folder)
# and data/synthetic in the checkout (`python -m stclr data synth data/synthetic`). Resumable: finished rows are
# kept in bench/_work/teaching_table/gpu/results.json (carry that folder to finish an interrupted table).
# TT_TIMEOUT (default 450 s) bounds the table; the finished rows, the table and the figure are copied to $OUT.
set -u
. "$(dirname "$0")/_gpu_env.sh" bench/_work/gpu_tt
$PY -c "import torch, torchvision, av; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'av', av.__version__)" \
  || exit 1
[ -f data/synthetic/splits/trainlist01.txt ] || { echo "needs data/synthetic"; exit 1; }
W=bench/_work/teaching_table/gpu
mkdir -p "$W"
timeout "${TT_TIMEOUT:-450}" $PY bench/teaching_table.py --device cuda --jobs "${JOBS:-18}" --threads 1 --resume "$W" \
  2>&1 | grep -v '^{' | tee "$OUT/teaching_table.log"
status=${PIPESTATUS[0]}
cp "$W/results.json" "$OUT/" 2>/dev/null
cp docs/benchmarks.md "$OUT/benchmarks.md"
cp docs/figures/teaching_table_losses.png "$OUT/" 2>/dev/null
echo "teaching table exit status $status after $SECONDS s"
exit "$status"
