#!/usr/bin/env bash
# Retrains the flight-delay model end to end (run from anywhere; `pnpm --filter @predict/flight-delay train`):
#   1. export.ts      parquet -> features.json + feature matrices (through src/features.ts)
#   2. test_convert   unit tests of the shared ONNX converter in packages/model-tools/python (+ rewrites its fixtures/)
#   3. fit.py         XGBoost fit, June evaluation, model.onnx / model.json / golden.json
#   4. check-parity   golden inputs -> featurize -> model.onnx in onnxruntime-node == XGBoost
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../../../packages/model-tools/bin/model-version.sh
source ../../packages/model-tools/bin/model-version.sh model

# shellcheck source=../../../packages/model-tools/bin/training-python.sh
source ../../packages/model-tools/bin/training-python.sh # PYTHON (Debian's, checked), MODEL_TOOLS_PYTHON

echo "== 1/4 export"
node --conditions=development --import tsx training/export.ts
echo "== 2/4 converter tests"
(cd "$MODEL_TOOLS_PYTHON" && "$PYTHON" -m unittest test_convert)
echo "== 3/4 fit"
"$PYTHON" training/fit.py
echo "== 4/4 parity"
if node -e "require.resolve('onnxruntime-node')" 2>/dev/null; then
  node --conditions=development --import tsx training/check-parity.ts "$MODEL_VERSION"
else
  echo "skipped: onnxruntime-node is not resolvable from @predict/flight-delay (add it as a dependency)" >&2
fi
