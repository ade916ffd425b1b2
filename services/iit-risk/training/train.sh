#!/usr/bin/env bash
# Retrains the iit-risk model end to end on the SYNTHETIC cohort (run from anywhere; `pnpm --filter @predict/iit-risk train`):
#   1. export.ts      seeded synthetic cohort (training/cohort.ts) -> feature matrices through src/features.ts
#   2. test_convert   unit tests of the shared ONNX converter in packages/model-tools/python
#   3. fit.py         XGBoost fit, metrics vs baseline and true risk, bands, drift reference, model.onnx / golden.json / model.json
#   4. check-parity   golden inputs and every test row -> featurize -> model.onnx in onnxruntime-node == XGBoost (risk and contributions)
#
# Options: --rows <n>, --seed <s>   cohort size and seed (default 200,000 people, seed 20240601)
# Writes model/<newest + 1>/ as a candidate (MODEL_VERSION=<v> picks another new number); promote it to serve.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../../../packages/model-tools/bin/model-version.sh
source ../../packages/model-tools/bin/model-version.sh model
# shellcheck source=../../../packages/model-tools/bin/training-python.sh
source ../../packages/model-tools/bin/training-python.sh # PYTHON (Debian's, checked), MODEL_TOOLS_PYTHON

echo "== 1/4 export (synthetic cohort)"
node --conditions=development --import tsx training/export.ts --rows 200000 "$@"
echo "== 2/4 converter tests"
(cd "$MODEL_TOOLS_PYTHON" && "$PYTHON" -m unittest test_convert)
echo "== 3/4 fit"
"$PYTHON" training/fit.py
echo "== 4/4 parity"
node --conditions=development --import tsx training/check-parity.ts "$MODEL_VERSION"
