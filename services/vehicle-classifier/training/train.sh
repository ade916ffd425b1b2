#!/usr/bin/env bash
# Retrains the vehicle classifier end to end (run from anywhere; `pnpm --filter @predict/vehicle-classifier train`):
#   1. render-data.ts   seeded procedural renders (or your photos, --images) -> tensors through src/image.ts,
#                       the service's own preprocessing; golden and evaluation uploads
#   2. fit.py           the CNN in PyTorch (Debian's python3-torch), accuracy and confusion matrices on the
#                       validation and shifted sets, model.onnx (dynamic batch), golden.json, evaluation.json, model.json
#   3. check-parity.ts  every held-out tensor through model.onnx in onnxruntime-node == PyTorch (1e-4), then the
#                       version loaded as the service loads it: golden uploads -> sharp -> graph == PyTorch
#
# Options: --images <root>    train on a standard image folder, root/<class>/*.{jpg,jpeg,png,webp}, instead of renders
#          --shifted <root>   (with --images) a second folder of the same classes used as the robustness test set
#          --per-class <n>    renders per class for training (default 2400)
#          --held-out-per-class <n>  validation and shifted renders per class (default 150)
#          --seed <s>         renderer seed (default 12)
# Environment: FIT_EPOCHS (default 18), FIT_THREADS (default 2), FIT_WIDTHS (conv channels, default 24,48,96,128),
#              MODEL_VERSION (default: newest + 1).
# Writes model/<newest + 1>/ as a candidate when another version exists; promote it to serve.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
# shellcheck source=../../../packages/model-tools/bin/model-version.sh
source ../../packages/model-tools/bin/model-version.sh model

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --images | --shifted)
      dir=$2
      if [ "${dir:0:1}" != / ]; then dir="$caller_dir/$dir"; fi
      args+=("$1" "$dir"); shift 2 ;;
    --per-class | --held-out-per-class | --seed) args+=("$1" "$2"); shift 2 ;;
    *) echo "unknown option $1 (see the top of training/train.sh)" >&2; exit 2 ;;
  esac
done

PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import torch, onnx, numpy' 2>/dev/null; then
  cat >&2 <<'MSG'
training needs /usr/bin/python3 with torch, onnx and numpy:
  Debian/Ubuntu:  sudo apt-get install python3-torch python3-onnx python3-numpy
MSG
  exit 1
fi
"$PYTHON" -c 'import torch, onnx, numpy; print(f"python: torch {torch.__version__}, onnx {onnx.__version__}, numpy {numpy.__version__}")'

echo "== 1/3 render and preprocess"
node --conditions=development --import tsx training/render-data.ts "${args[@]}"
echo "== 2/3 fit"
"$PYTHON" training/fit.py
echo "== 3/3 parity"
node --conditions=development --import tsx training/check-parity.ts "$MODEL_VERSION"
