# Sourced by every service's training/train.sh: sets PYTHON to Debian's /usr/bin/python3 (not a pyenv/venv
# python3 from PATH) after checking it has the training packages, and prints their versions.
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import xgboost, onnx, numpy, sklearn' 2>/dev/null; then
  cat >&2 <<'MSG'
training needs /usr/bin/python3 with xgboost (1.7), onnx (1.12+), numpy and scikit-learn:
  Debian/Ubuntu:  sudo apt-get install python3-xgboost python3-onnx python3-sklearn python3-numpy
  pip:            /usr/bin/python3 -m pip install xgboost onnx scikit-learn numpy
MSG
  exit 1
fi
"$PYTHON" -c 'import xgboost, onnx, sklearn, numpy; print(f"python: xgboost {xgboost.__version__}, onnx {onnx.__version__}, scikit-learn {sklearn.__version__}, numpy {numpy.__version__}")'
MODEL_TOOLS_PYTHON="$(cd "$(dirname "${BASH_SOURCE[0]}")/../python" && pwd)"
export PYTHON MODEL_TOOLS_PYTHON
