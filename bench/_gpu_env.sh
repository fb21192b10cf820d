# Sourced by the lent-GPU scripts (bench/gpu.sh, bench/gpu_teaching_table.sh): sets OUT (from $OUT or the default
# given as $1) and PY, installs the wheels in .whl/ (PyAV, ...) into a temporary folder -- the GPU machine has no
# network and no decord/PyAV -- and prints the GPU and the torch/torchvision versions.
OUT=${OUT:-$1}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
  SITE=$(mktemp -d)
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
    && export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
