"""Fits the iit-risk model on the SYNTHETIC cohort export and writes model/<version>/.

    /usr/bin/python3 training/fit.py        (train.sh runs it after export.ts; MODEL_VERSION picks the version)

XGBoost binary:logistic with early stopping on validation log loss, leaves snapped to a float32-exact grid,
converted by the shared converter (packages/model-tools/python/convert.py) into one graph with two outputs:
`contributions` [N, F + 1] (XGBoost's approximate per-leaf feature contributions on the log-odds scale, last
column the bias: one tree ensemble with a target per feature) and `risk` [N, 1] (probability of interruption:
the sigmoid of their row sum, which is the margin; the trees are walked once per row). Risk bands come from validation score
quantiles; metrics, calibration, how the model tracks the true generating risk, and the drift reference come
from the held-out splits. Writes model.onnx, golden.json (risk AND contributions of held-out people) and
model.json (the card, with the sha256 of every file), plus test predictions under training/data for
check-parity.ts.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xgboost as xgb
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

SERVICE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SERVICE_DIR.parent.parent / "packages" / "model-tools" / "python"))
import convert  # noqa: E402
import fitting  # noqa: E402

DATA_DIR = SERVICE_DIR / "training" / "data"
MAX_TREES = 1500
EARLY_STOPPING_ROUNDS = 50
THREADS = 2
GOLDEN_ROWS = 64
BANDS = {"high": 0.10, "medium": 0.20}  # top 10 % of validation scores, the next 20 %
DRIFT_BINS = 10
log = fitting.logger("fit")


def load(split: str, nf: int) -> dict:
    return {
        "x": fitting.read_array(DATA_DIR / f"{split}.features.f32", "<f4", nf),
        "y": fitting.read_array(DATA_DIR / f"{split}.label.f32", "<f4"),
        "risk": fitting.read_array(DATA_DIR / f"{split}.risk.f32", "<f4").astype(np.float64),
    }


def scores(p: np.ndarray, y: np.ndarray) -> dict:
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7))),
    }


def calibration(p: np.ndarray, y: np.ndarray, risk: np.ndarray, bins: int = 10) -> list:
    """Deciles of predicted risk: mean predicted, observed rate and mean true (generating) risk."""
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        m = which == b
        if m.any():
            rows.append({
                "decile": b + 1,
                "rows": int(m.sum()),
                "mean_predicted": round(float(p[m].mean()), 4),
                "observed_rate": round(float(y[m].mean()), 4),
                "mean_true_risk": round(float(risk[m].mean()), 4),
            })
    return rows


def band_report(p: np.ndarray, y: np.ndarray, medium: float, high: float) -> dict:
    out = {}
    total = max(1.0, float(y.sum()))
    for name, m in (("high", p >= high), ("medium", (p >= medium) & (p < high)), ("low", p < medium)):
        out[name] = {
            "share_of_people": round(float(m.mean()), 4),
            "share_of_interruptions": round(float(y[m].sum() / total), 4),
            "ppv": round(float(y[m].mean()) if m.any() else 0.0, 4),
        }
    return out


def drift_reference(x: np.ndarray, names: list) -> dict:
    """Per feature: bin edges from training quantiles and the share of training rows in each bin
    (bins: (-inf, e0), [e0, e1), ..., [e_last, inf)) plus the share missing; what the serving core's drift
    monitor compares a window of served rows with (PSI)."""
    features = []
    for j, name in enumerate(names):
        col = x[:, j].astype(np.float64)
        present = col[~np.isnan(col)]
        edges = sorted(set(float(np.float32(v)) for v in np.quantile(present, np.linspace(0, 1, DRIFT_BINS + 1)[1:-1])))
        if not edges:
            edges = [float(np.float32(present.min()))] if present.size else [0.0]
        counts = np.bincount(np.searchsorted(np.asarray(edges, dtype=np.float32), present.astype(np.float32), side="right"), minlength=len(edges) + 1)
        features.append({
            "name": name,
            "index": j,
            "edges": edges,
            "proportions": [round(float(c) / col.size, 6) for c in counts],
            "missing": round(float(np.isnan(col).mean()), 6),
        })
    return {"input": "features", "rows": int(x.shape[0]), "features": features}


def main() -> None:
    version = os.environ.get("MODEL_VERSION", "1")
    model_dir = SERVICE_DIR / "model" / version
    meta = json.loads((DATA_DIR / "meta.json").read_text())
    names = meta["feature_names"]
    nf = meta["feature_count"]
    tr, va, te = load("train", nf), load("validation", nf), load("test", nf)
    log(f"train {len(tr['y'])}, validation {len(va['y'])}, test {len(te['y'])} rows x {nf} features (SYNTHETIC)")

    params = dict(
        objective="binary:logistic",
        base_score=0.5,  # margin offset 0: on the quantization grid
        eval_metric="logloss",
        tree_method="hist",
        max_depth=4,
        eta=0.05,
        min_child_weight=5,
        subsample=0.8,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        seed=13,
        nthread=THREADS,
    )
    booster, info, _ = fitting.fit_booster(params, MAX_TREES, tr["x"], tr["y"], va["x"], va["y"], EARLY_STOPPING_ROUNDS, verbose_eval=100)
    log(f"{info['trees']} trees in {info['fit_seconds']} s")
    convert.check_margin_offset(booster, va["x"][:2000])

    def predict(x: np.ndarray) -> np.ndarray:
        return booster.predict(xgb.DMatrix(x, missing=np.nan)).astype(np.float64)

    def contribs(x: np.ndarray) -> np.ndarray:
        return booster.predict(xgb.DMatrix(x, missing=np.nan), pred_contribs=True, approx_contribs=True)

    p_va, p_te = predict(va["x"]), predict(te["x"])
    test_scores, val_scores = scores(p_te, te["y"]), scores(p_va, va["y"])

    # Baseline: the rule programmes use without a model, "any missed visit or earlier interruption in the last
    # year", ranked by how many (prior_missed_visits + prior_iit_episodes).
    col = {n: i for i, n in enumerate(names)}
    base_te = te["x"][:, col["prior_missed_visits"]] + te["x"][:, col["prior_iit_episodes"]]
    baseline = {"roc_auc": float(roc_auc_score(te["y"], base_te)), "pr_auc": float(average_precision_score(te["y"], base_te))}
    flagged = base_te >= 1
    baseline["rule_share_flagged"] = round(float(flagged.mean()), 4)
    baseline["rule_share_of_interruptions"] = round(float(te["y"][flagged].sum() / te["y"].sum()), 4)
    baseline["rule_ppv"] = round(float(te["y"][flagged].mean()), 4)
    baseline["brier_of_prevalence"] = float(brier_score_loss(te["y"], np.full_like(p_te, tr["y"].mean())))
    oracle = scores(te["risk"], te["y"])
    tracking = {
        "pearson_r": float(np.corrcoef(p_te, te["risk"])[0, 1]),
        "spearman_r": float(np.corrcoef(np.argsort(np.argsort(p_te)), np.argsort(np.argsort(te["risk"])))[0, 1]),
        "mean_abs_error": float(np.mean(np.abs(p_te - te["risk"]))),
        "max_abs_error": float(np.max(np.abs(p_te - te["risk"]))),
    }
    log(f"test ROC AUC {test_scores['roc_auc']:.4f} (baseline {baseline['roc_auc']:.4f}, true risk {oracle['roc_auc']:.4f}); "
        f"PR AUC {test_scores['pr_auc']:.4f}; Brier {test_scores['brier']:.4f}; r(pred, true risk) {tracking['pearson_r']:.4f}")

    high = float(np.float32(np.quantile(p_va, 1 - BANDS["high"])))
    medium = float(np.float32(np.quantile(p_va, 1 - BANDS["high"] - BANDS["medium"])))
    bands_test = band_report(p_te, te["y"], medium, high)
    bands_validation = band_report(p_va, va["y"], medium, high)
    hi = bands_test["high"]
    md = bands_test["medium"]

    model_dir.mkdir(parents=True, exist_ok=True)
    onnx_model = convert.build_model(
        [("risk", booster)], nf, graph_name="iit_risk", feature_names=names, contributions=("contributions", booster),
        metadata={"synthetic": "true"},
    )
    onnx_fields = fitting.write_onnx(model_dir, onnx_model)

    # Golden rows: held-out people (as requests) with XGBoost's risk and approximate contributions.
    candidates = [json.loads(line) for line in (DATA_DIR / "golden_candidates.jsonl").read_text().splitlines() if line]
    gx = fitting.read_array(DATA_DIR / "golden_candidates.features.f32", "<f4", nf)[:GOLDEN_ROWS]
    g_risk, g_contrib = predict(gx), contribs(gx)
    fitting.write_golden(
        model_dir, version, 1e-5,
        [{"input": c["input"], "risk": float(np.float32(g_risk[i])), "contributions": [float(v) for v in g_contrib[i]]}
         for i, c in enumerate(candidates[:GOLDEN_ROWS])],
        note="risk: XGBoost predict(); contributions: XGBoost predict(pred_contribs=True, approx_contribs=True), last = bias; SYNTHETIC people",
    )
    # For check-parity.ts: every test row's XGBoost outputs, [rows, 1 + F + 1].
    np.concatenate([p_te[:, None], contribs(te["x"])], axis=1).astype("<f4").tofile(DATA_DIR / "test.expected.f32")

    evaluation_p = predict(fitting.read_array(DATA_DIR / "evaluation.features.f32", "<f4", nf))
    evaluation_rows = json.loads((model_dir / "evaluation.json").read_text())["rows"]
    evaluation_auc = float(roc_auc_score([r["target"] for r in evaluation_rows], evaluation_p))

    card = {
        "name": "iit-risk",
        "version": version,
        "description": "Risk of interruption in HIV treatment (IIT: > 28 days without contact or pick-up after a missed visit) at the next scheduled visit. TRAINED ON SYNTHETIC DATA.",
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "framework": fitting.FRAMEWORK,
        "data": {
            "synthetic": True,
            "warning": "SYNTHETIC cohort generated by training/cohort.ts; no real patient data. Not for clinical use without retraining and validation on programme data.",
            "rows": meta["rows"],
            "seed": meta["seed"],
            "prevalence": meta["prevalence"],
            "split": "random by person: 70 % train, 15 % validation (early stopping, band thresholds), 15 % test (every metric)",
            "generator": meta["generator"],
        },
        "features": names,
        "features_note": "computed by src/features.ts from the person's features (stored or inline); the same code writes the training matrix. No viral load result = missing (NaN), which the trees route by their learned default.",
        "inputs": [{"name": "features", "type": "float32", "shape": [-1, nf]}],
        "outputs": [
            {"name": "risk", "type": "float32", "shape": [-1, 1]},
            {"name": "contributions", "type": "float32", "shape": [-1, nf + 1]},
        ],
        "output_note": "risk = probability of IIT; contributions = per-feature push on the log-odds (XGBoost approx_contribs, per leaf), last = bias; they sum to logit(risk)",
        "risk_bands": {
            "thresholds": {"medium": medium, "high": high},
            "chosen_on": "validation scores: high = top 10 %, medium = the next 20 %, low = the rest",
            "meaning": {
                "high": f"top 10 % of scores: on held-out people catches {100 * hi['share_of_interruptions']:.0f} % of interruptions with PPV {100 * hi['ppv']:.0f} % — call or visit before the next appointment",
                "medium": f"next 20 %: {100 * md['share_of_interruptions']:.0f} % of interruptions, PPV {100 * md['ppv']:.0f} % — reminder (SMS/call) and check at the visit",
                "low": f"the rest: {100 * bands_test['low']['share_of_interruptions']:.0f} % of interruptions, PPV {100 * bands_test['low']['ppv']:.0f} % — routine care",
            },
            "test": bands_test,
            "validation": bands_validation,
        },
        "metrics": {
            "test": test_scores,
            "validation": val_scores,
            "baseline": baseline,
            "true_risk_as_prediction": oracle,
            "tracks_true_risk": tracking,
            "calibration_test_deciles": calibration(p_te, te["y"], te["risk"]),
            "evaluation_set_roc_auc": evaluation_auc,
            "definitions": {
                "baseline": "score = prior_missed_visits + prior_iit_episodes (rule: flag when >= 1); brier_of_prevalence: the training prevalence for everyone",
                "true_risk_as_prediction": "the generator's true risk used as the prediction: the ceiling no model can beat",
                "tracks_true_risk": "predicted risk against the generating risk of each test person",
            },
        },
        "top_factors": {
            "method": "XGBoost approximate contributions (Saabas: per leaf, the change in node mean value along the path), exported into the ONNX graph as a tree ensemble with one target per feature (+ the bias); risk is the sigmoid of their row sum (the margin), so one walk of the trees gives both; parity-checked against pred_contribs(approx_contribs=True) and predict()",
            "served": "the features with the largest positive contributions (pushing risk up), at most 3",
        },
        "gate": {"metric": "roc_auc", "direction": "higher", "prediction": "risk_score"},
        "candidate": fitting.is_candidate(model_dir.parent, version),
        "drift_reference": drift_reference(tr["x"], names),
        **onnx_fields,
        "hyperparameters": {
            **{k: v for k, v in params.items() if k != "nthread"},
            "trees": info["trees"],
            "max_trees": MAX_TREES,
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "leaf_quantization_step": info["leaf_step"],
            "fit_seconds": info["fit_seconds"],
        },
        "artifacts": {"golden": "golden.json", "evaluation": "evaluation.json"},
    }
    card["files"] = fitting.version_files(model_dir)
    (model_dir / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    log(f"wrote {model_dir.relative_to(SERVICE_DIR)}/{{model.onnx, golden.json, evaluation.json, model.json}}")


if __name__ == "__main__":
    main()
