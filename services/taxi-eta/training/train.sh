#!/usr/bin/env bash
# Retrains the taxi-eta model end to end (run from anywhere; `pnpm --filter @predict/taxi-eta train`):
#   1. generate.ts    SYNTHETIC trips CSV (seeded) + noise-free durations, unless --csv / TAXI_CSV names a real file
#   2. export.ts      trips CSV -> feature matrices (through src/features.ts) + model/<v>/evaluation.json
#   3. test_convert   unit tests of the shared ONNX converter in packages/model-tools/python
#   4. fit.py         XGBoost fit, June evaluation vs baseline and floor, intervals, model.onnx / model.json / golden.json
#   5. check-parity   golden inputs and every test row -> featurize -> model.onnx in onnxruntime-node == XGBoost
#
# Options: --csv <path>   train on this CSV in the NYC Taxi Trip Duration schema (e.g. Kaggle's train.csv)
#                         instead of generating one; same as TAXI_CSV=<path>. A relative path is taken from
#                         where you run the command.
#          --rows <n>, --seed <s>   generator size and seed (default 1,000,000 trips, seed 20160101)
# Writes model/<newest + 1>/ as a candidate (MODEL_VERSION=<v> picks another new number); promote it to serve.
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
# shellcheck source=../../../packages/model-tools/bin/model-version.sh
source ../../packages/model-tools/bin/model-version.sh model

csv=${TAXI_CSV:-}
generator_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --csv) csv=$2; shift 2 ;;
    --rows | --seed) generator_args+=("$1" "$2"); shift 2 ;;
    *) echo "unknown option $1 (see the top of training/train.sh)" >&2; exit 2 ;;
  esac
done
if [ -n "$csv" ] && [ "${csv:0:1}" != / ]; then csv="$caller_dir/$csv"; fi

# shellcheck source=../../../packages/model-tools/bin/training-python.sh
source ../../packages/model-tools/bin/training-python.sh # PYTHON (Debian's, checked), MODEL_TOOLS_PYTHON

if [ -z "$csv" ]; then
  echo "== 1/5 generate (synthetic)"
  node --conditions=development --import tsx training/generate.ts "${generator_args[@]}"
  csv=training/data/trips.csv
else
  echo "== 1/5 generate: skipped, training on $csv"
fi
echo "== 2/5 export"
node --conditions=development --import tsx training/export.ts --csv "$csv"
echo "== 3/5 converter tests"
(cd "$MODEL_TOOLS_PYTHON" && "$PYTHON" -m unittest test_convert)
echo "== 4/5 fit"
"$PYTHON" training/fit.py
echo "== 5/5 parity"
node --conditions=development --import tsx training/check-parity.ts "$MODEL_VERSION"
