"""Pieces every service's training/fit.py shares: reading the export's raw matrices, fitting an XGBoost booster
with early stopping and exact-in-float32 leaves, and describing a model version's files for its card.

    sys.path.insert(0, str(SERVICE_DIR.parent.parent / "packages" / "model-tools" / "python"))
    import convert, fitting
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import xgboost as xgb

import convert


def logger(prefix: str) -> Callable[[str], None]:
    """print() with the seconds since this logger was made: `[fit +  12.3s] message`."""
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{prefix} +{time.time() - t0:6.1f}s] {msg}", flush=True)

    return log


def read_array(path: Path, dtype: str, columns: int | None = None) -> np.ndarray:
    """A raw little-endian array written by the TypeScript export (`writeArray`): [rows] or [rows, columns]."""
    a = np.fromfile(path, dtype=dtype)
    return a if columns is None else a.reshape(-1, columns)


def fit_booster(params: dict, max_trees: int, x, y, x_val, y_val, early_stopping_rounds: int = 30, verbose_eval: int = 50):
    """Trains up to max_trees with early stopping on (x_val, y_val) (the last eval_metric drives it), keeps the
    trees up to the best round and snaps their leaves to a float32-exact grid (convert.quantize_leaves).
    Returns (quantized booster, info, unquantized sliced booster)."""
    # No feature names on the DMatrix: the boosters index columns, exactly as the ONNX graph does.
    dtrain = xgb.DMatrix(x, label=y)
    dval = xgb.DMatrix(x_val, label=y_val)
    history: dict = {}
    t0 = time.time()
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max_trees,
        evals=[(dval, "validation")],
        early_stopping_rounds=early_stopping_rounds,
        evals_result=history,
        verbose_eval=verbose_eval,
    )
    seconds = time.time() - t0
    best = booster.best_iteration
    sliced = booster[: best + 1]
    quantized, step = convert.quantize_leaves(sliced)
    info = dict(trees=best + 1, fit_seconds=round(seconds, 1), leaf_step=step, validation_history=history["validation"])
    return quantized, info, sliced


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_files(model_dir: Path, card: str = "model.json") -> dict:
    """sha256 of every file of a model version except its card, by file name (sorted)."""
    return {p.name: sha256_hex(p.read_bytes()) for p in sorted(model_dir.iterdir()) if p.is_file() and p.name != card}


def onnx_summary(model: onnx.ModelProto, onnx_bytes: bytes) -> dict:
    return {
        "bytes": len(onnx_bytes),
        "ir_version": model.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
    }


FRAMEWORK = f"xgboost {xgb.__version__}, converted to ONNX by packages/model-tools/python/convert.py (own converter)"


def write_onnx(model_dir: Path, model: onnx.ModelProto) -> dict:
    """Writes model.onnx; returns the card's `onnx_sha256` and `onnx` (size, IR version, opsets) fields."""
    onnx_bytes = model.SerializeToString()
    (model_dir / "model.onnx").write_bytes(onnx_bytes)
    return {"onnx_sha256": sha256_hex(onnx_bytes), "onnx": onnx_summary(model, onnx_bytes)}


def write_golden(model_dir: Path, version: str, tolerance: float, rows: list, **extra) -> None:
    """golden.json: held-out inputs with the fitted model's outputs (`{input, <output>: value}` rows), which
    the serving core replays at load and the service's golden test through the API."""
    golden = {"model_version": version, "tolerance": tolerance, **extra, "rows": rows}
    (model_dir / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")


def is_candidate(model_root: Path, version: str) -> bool:
    """A new version is a candidate (`"candidate": true` in its card: never served until promoted) when another
    version already exists beside it; the first version of a service serves as soon as it is written."""
    return any(p.is_dir() and p.name.isdigit() and p.name != version for p in model_root.iterdir())
