#!/usr/bin/env bash
# Retrains the flight-delay model end to end (run from anywhere; `pnpm --filter @predict/flight-delay train`):
#   1. export.ts      parquet -> features.json + feature matrices (through src/features.ts)
#   2. test_convert   unit tests of the ONNX converter (+ rewrites training/fixtures/converter-fixture.*)
#   3. fit.py         XGBoost fit, June evaluation, model.onnx / model.json / golden.json
#   4. check-parity   golden inputs -> featurize -> model.onnx in onnxruntime-node == XGBoost
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=/usr/bin/python3 # Debian's python with the packages below; not a pyenv/venv one from PATH
if ! "$PYTHON" -c 'import xgboost, onnx, numpy, sklearn' 2>/dev/null; then
  cat >&2 <<'MSG'
training needs /usr/bin/python3 with xgboost (1.7), onnx (1.12+), numpy and scikit-learn:
  Debian/Ubuntu:  sudo apt-get install python3-xgboost python3-onnx python3-sklearn python3-numpy
  pip:            /usr/bin/python3 -m pip install xgboost onnx scikit-learn numpy
MSG
  exit 1
fi
"$PYTHON" -c 'import xgboost, onnx, sklearn, numpy; print(f"python: xgboost {xgboost.__version__}, onnx {onnx.__version__}, scikit-learn {sklearn.__version__}, numpy {numpy.__version__}")'

echo "== 1/4 export"
node --conditions=development --import tsx training/export.ts
echo "== 2/4 converter tests"
"$PYTHON" -m unittest discover -s training -p 'test_*.py'
echo "== 3/4 fit"
"$PYTHON" training/fit.py
echo "== 4/4 parity"
if node -e "require.resolve('onnxruntime-node')" 2>/dev/null; then
  node --conditions=development --import tsx training/check-parity.ts "${MODEL_VERSION:-1}"
else
  echo "skipped: onnxruntime-node is not resolvable from @predict/flight-delay (add it as a dependency)" >&2
fi
