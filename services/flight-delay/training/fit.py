"""Fits the flight-delay models on the matrices from training/export.ts and writes model/<version>/.

    cd services/flight-delay && /usr/bin/python3 training/fit.py

Reads  training/data/{meta.json, <split>.features.f32, <split>.delayed.u8, <split>.minutes.f32,
       test.baseline.f32, golden_candidates.jsonl, golden_candidates.features.f32}
Writes model/<version>/{model.onnx, model.json, golden.json} (features.json is written by export.ts) and
       training/data/test.predictions.f32 (XGBoost's June predictions, for training/check-parity.ts).
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.metrics import brier_score_loss, f1_score, log_loss, mean_absolute_error, mean_squared_error, roc_auc_score

SERVICE_DIR = Path(__file__).resolve().parent.parent
# The shared XGBoost -> ONNX converter and fitting helpers (packages/model-tools/python).
sys.path.insert(0, str(SERVICE_DIR.parent.parent / "packages" / "model-tools" / "python"))
import convert  # noqa: E402
import fitting  # noqa: E402

DATA_DIR = SERVICE_DIR / "training" / "data"
GOLDEN_ROWS = 300
GOLDEN_TOLERANCE = 1e-5
SEED = 20010601
THREADS = 2

# Chosen on the late-May validation, with the ONNX file kept under ~3 MB (~45 bytes per tree node):
#   classifier, <=300 trees, eta 0.1: depth 6 AUC 0.7875 (30k nodes), depth 7 0.7918 (49k), depth 8 0.7949 (75k,
#   too big); depth 7 with eta 0.05 and 500 trees 0.7897.
#   regressor, eta 0.1: depth 6 x 200 trees RMSE 26.44, depth 6 x 300 26.35 (30k nodes), depth 7 x 200 26.32 (34k).
# Early stopping (30 rounds) may cut the number of trees below the cap.
COMMON = dict(
    tree_method="hist",
    max_bin=256,
    eta=0.1,
    min_child_weight=100,
    subsample=0.8,
    colsample_bytree=0.8,
    reg_lambda=1.0,
    seed=SEED,
    nthread=THREADS,
)
CLASSIFIER = dict(
    COMMON,
    objective="binary:logistic",
    base_score=0.5,  # margin offset 0: leaf sums stay exact in float32 (see convert.quantize_leaves)
    eval_metric=["logloss", "auc"],  # the last one drives early stopping
    max_depth=7,
)
CLASSIFIER_MAX_TREES = 300
REGRESSOR = dict(COMMON, objective="reg:squarederror", eval_metric=["mae", "rmse"], max_depth=6)
REGRESSOR_MAX_TREES = 300
EARLY_STOPPING_ROUNDS = 30


log = fitting.logger("fit")


def load_split(name: str, features: int):
    x = fitting.read_array(DATA_DIR / f"{name}.features.f32", "<f4", features)
    delayed = fitting.read_array(DATA_DIR / f"{name}.delayed.u8", np.uint8).astype(np.float32)
    minutes = fitting.read_array(DATA_DIR / f"{name}.minutes.f32", "<f4")
    if not (len(x) == len(delayed) == len(minutes)):
        raise ValueError(f"{name}: row counts differ")
    return x, delayed, minutes


def metrics(delayed, minutes, p, m) -> dict:
    return dict(
        roc_auc=float(roc_auc_score(delayed, p)),
        brier=float(brier_score_loss(delayed, p)),
        log_loss=float(log_loss(delayed, np.clip(p, 1e-7, 1 - 1e-7))),
        mae_minutes=float(mean_absolute_error(minutes, m)),
        rmse_minutes=float(np.sqrt(mean_squared_error(minutes, m))),
    )


def best_f1_threshold(y, p) -> tuple[float, float]:
    best = (0.5, 0.0)
    for t in np.arange(0.05, 0.95, 0.01):
        f = f1_score(y, p >= t)
        if f > best[1]:
            best = (round(float(t), 2), float(f))
    return best


def main() -> None:
    meta = json.loads((DATA_DIR / "meta.json").read_text())
    version = meta["model_version"]
    model_dir = SERVICE_DIR / "model" / version
    names = meta["feature_names"]
    nf = meta["feature_count"]
    if not (model_dir / "features.json").exists():
        sys.exit(f"{model_dir}/features.json missing: run training/export.ts first")

    x_tr, d_tr, m_tr = load_split("train", nf)
    x_va, d_va, m_va = load_split("validation", nf)
    x_te, d_te, m_te = load_split("test", nf)
    baseline = fitting.read_array(DATA_DIR / "test.baseline.f32", "<f4", 2)
    log(f"rows: train {len(x_tr)}, validation {len(x_va)}, test {len(x_te)}; {nf} features")

    started = time.time()
    cls, cls_info, cls_raw = fitting.fit_booster(CLASSIFIER, CLASSIFIER_MAX_TREES, x_tr, d_tr, x_va, d_va, EARLY_STOPPING_ROUNDS)
    log(f"classifier: {cls_info['trees']} trees in {cls_info['fit_seconds']}s, leaf grid {cls_info['leaf_step']:.3g}")
    # An integer base score keeps the regressor's margin offset on the leaf grid too.
    regressor_params = dict(REGRESSOR, base_score=float(round(float(m_tr.mean()))))
    reg, reg_info, reg_raw = fitting.fit_booster(regressor_params, REGRESSOR_MAX_TREES, x_tr, m_tr, x_va, m_va, EARLY_STOPPING_ROUNDS)
    log(f"regressor: {reg_info['trees']} trees in {reg_info['fit_seconds']}s, leaf grid {reg_info['leaf_step']:.3g}")
    fit_seconds = time.time() - started

    for booster in (cls, reg):
        convert.check_margin_offset(booster, x_te[:5000])

    def predict(x):
        d = xgb.DMatrix(x)
        return cls.predict(d), reg.predict(d)

    p_va, m_va_hat = predict(x_va)
    p_te, m_te_hat = predict(x_te)
    d_raw = xgb.DMatrix(x_te)
    quantization_effect = dict(
        max_abs_probability=float(np.max(np.abs(cls_raw.predict(d_raw) - p_te))),
        max_abs_minutes=float(np.max(np.abs(reg_raw.predict(d_raw) - m_te_hat))),
    )
    threshold, f1_val = best_f1_threshold(d_va, p_va)
    test_metrics = metrics(d_te, m_te, p_te, m_te_hat)
    test_metrics["f1_at_threshold"] = float(f1_score(d_te, p_te >= threshold))
    baseline_metrics = metrics(d_te, m_te, baseline[:, 0], baseline[:, 1])
    log(f"test (June): {json.dumps({k: round(v, 4) for k, v in test_metrics.items()})}")
    log(f"baseline:    {json.dumps({k: round(v, 4) for k, v in baseline_metrics.items()})}")
    log(f"quantization effect on test predictions: {quantization_effect}")

    model = convert.to_onnx(
        cls, reg, nf, feature_names=names, metadata={"model_name": "flight-delay", "model_version": version}
    )
    onnx_fields = fitting.write_onnx(model_dir, model)
    log(f"model.onnx: {onnx_fields['onnx']['bytes'] / 1e6:.2f} MB")

    # Golden vectors: held-out June requests, featurized by export.ts, scored by the XGBoost boosters above.
    candidates = [json.loads(l) for l in (DATA_DIR / "golden_candidates.jsonl").read_text().splitlines() if l]
    x_gold = fitting.read_array(DATA_DIR / "golden_candidates.features.f32", "<f4", nf)
    for c, row in zip(candidates, x_gold):
        if "distance_miles" in c["input"] and not np.array_equal(row, x_te[c["test_row"]]):
            raise AssertionError(f"golden candidate {c} was featurized differently from its test row")
    p_gold, m_gold = predict(x_gold[:GOLDEN_ROWS])
    fitting.write_golden(
        model_dir,
        version,
        GOLDEN_TOLERANCE,
        [
            {"input": c["input"], "probability_delayed": float(p), "expected_delay_minutes": float(m)}
            for c, p, m in zip(candidates[:GOLDEN_ROWS], p_gold, m_gold)
        ],
    )
    # All June predictions too, for the wider parity check in training/check-parity.ts.
    np.stack([p_te, m_te_hat], axis=1).astype("<f4").tofile(DATA_DIR / "test.predictions.f32")

    card = {
        "name": "flight-delay",
        "version": version,
        "description": (
            "For a scheduled US domestic flight: the probability that it arrives 15 or more minutes late and "
            "the expected arrival delay in minutes. Gradient-boosted trees over schedule features (airports, "
            "departure hour, day of week, month, distance) and smoothed historical delay rates of the origin, "
            "destination, route and departure hour, learned from January-May 2001."
        ),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "framework": fitting.FRAMEWORK,
        "data": {
            "source": "vega-datasets 3.2.1 data/flights-3m.parquet (US DOT on-time data, Jan–Jun 2001)",
            "split": (
                f"time-based: train {meta['periods']['train'][0]}..{meta['periods']['train'][1]}, "
                f"validation (early stopping, threshold) {meta['periods']['validation'][0]}..{meta['periods']['validation'][1]}, "
                f"test {meta['periods']['test'][0]}..{meta['periods']['test'][1]}; never random. "
                "Delay statistics for train/validation rows are out-of-fold (5 folds by calendar day); "
                "serving and test rows use statistics of the whole Jan-May period (features.json)."
            ),
            "rows": {"train": len(x_tr), "validation": len(x_va), "test": len(x_te)},
            "subsampling": "none: all training rows used",
            "dropped": meta["dropped"],
            "airports": meta["airports"],
            "routes": meta["routes"],
            "label": "delayed = arrival delay >= 15 minutes; minutes = arrival delay (negative = early)",
        },
        "features": names,
        "features_note": (
            "computed by src/features.ts from the request {origin, destination, scheduled_departure, distance_miles?} "
            "and features.json; month is a feature, but training covers January-May only, so trees read June and later "
            "as late spring; day of month is not a feature (it could only learn Jan-May holidays)."
        ),
        "inputs": [{"name": "features", "type": "float32", "shape": [-1, nf]}],
        "outputs": [
            {"name": "probability_delayed", "type": "float32", "shape": [-1, 1]},
            {"name": "expected_delay_minutes", "type": "float32", "shape": [-1, 1]},
        ],
        "thresholds": {
            "delayed_minutes": meta["delayed_minutes"],
            "decision": threshold,
            "decision_rule": f"predict delayed when probability_delayed >= decision (max F1 on validation: {f1_val:.4f})",
        },
        "metrics": {
            "test": test_metrics,
            "baseline": baseline_metrics,
            "baseline_definition": meta["baseline"]["definition"],
            "validation": metrics(d_va, m_va, p_va, m_va_hat),
            "test_delayed_rate": float(d_te.mean()),
        },
        # Training writes a new version as a candidate: it serves only once promoted (the first version serves).
        "candidate": fitting.is_candidate(model_dir.parent, version),
        # sha256 of every file of the version but the card: the serving core refuses a version whose files differ.
        "files": fitting.version_files(model_dir),
        **onnx_fields,
        "hyperparameters": {
            "classifier": {**{k: v for k, v in CLASSIFIER.items() if k != "nthread"}, "trees": cls_info["trees"], "max_trees": CLASSIFIER_MAX_TREES},
            "regressor": {**{k: v for k, v in regressor_params.items() if k != "nthread"}, "trees": reg_info["trees"], "max_trees": REGRESSOR_MAX_TREES},
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "leaf_quantization": {
                "classifier_step": cls_info["leaf_step"],
                "regressor_step": reg_info["leaf_step"],
                "why": "leaf values snapped to a power-of-two grid so that float32 sums of leaves are exact in any order: XGBoost and onnxruntime give identical margins",
                "max_effect_on_test": quantization_effect,
            },
            "target_statistics": meta["target_statistics"],
            "fit_seconds": round(fit_seconds, 1),
            "threads": THREADS,
        },
        "artifacts": {"features": "features.json", "golden": "golden.json"},
    }
    (model_dir / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    log(f"wrote {model_dir.relative_to(SERVICE_DIR)}/{{model.onnx, model.json, golden.json}}")


if __name__ == "__main__":
    main()
