"""XGBoost boosters -> one ONNX model, without onnxmltools/skl2onnx. Shared by every service's training
(flight-delay, taxi-eta): their fit.py put this folder on sys.path and `import convert`.

Graph (build_model): one input, one float32 [batch, 1] output per (name, booster):
    features float32 [batch, F]
      -> ai.onnx.ml TreeEnsembleRegressor (binary:logistic trees, margin) -> Sigmoid -> <name> [batch, 1]
      -> ai.onnx.ml TreeEnsembleRegressor (reg:squarederror trees)                  -> <name> [batch, 1]
flight-delay: probability_delayed (classifier) + expected_delay_minutes (regressor), through to_onnx();
taxi-eta: log_duration (a regressor on log1p(seconds));
iit-risk: risk (a classifier) + contributions [batch, F + 1] (approx_contributions: XGBoost's per-leaf
approximate feature contributions on the margin scale, the last column the bias, as a tree ensemble with one
target per feature in the same graph). When the contributions are those of a target's own booster, that
target is not a second ensemble: its margin is the row sum of the contributions (they add up to the margin),
    features -> TreeEnsembleRegressor (F + 1 targets) -> contributions [batch, F + 1]
                                      -> ReduceSum(axis 1) -> <name>_margin -> Sigmoid -> <name> [batch, 1]
so the trees are walked once per row, not twice.

Tree semantics carried over exactly:
  * XGBoost goes to the left child when x < threshold  -> mode BRANCH_LT, true branch = left child;
  * thresholds are float32 in XGBoost and in ONNX (nodes_values is a float attribute);
  * a missing value (NaN) follows default_left      -> nodes_missing_value_tracks_true = default_left;
  * the margin offset (base_score through the objective's link) -> base_values, checked against
    predict(output_margin=True).

quantize_leaves() optionally snaps leaf values to a power-of-two grid so that every partial sum of leaves is
exactly representable in float32: then XGBoost (which sums in float32, base score first) and onnxruntime
(which sums in any order it likes, base value last) produce bit-identical margins. A margin read from the
contributions' row sum is not on that grid: it matches to float32 rounding of the contributions.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import xgboost as xgb
from onnx import TensorProto, helper

ONNX_OPSET = 17  # default domain; onnx 1.12 knows up to 17, onnxruntime-node 1.30 runs it
ONNX_ML_OPSET = 3
IR_VERSION = 8
SUPPORTED_OBJECTIVES = ("binary:logistic", "reg:squarederror")
PRODUCER_NAME = "@predict/model-tools python/convert.py"


@dataclass
class Tree:
    left: np.ndarray  # int, -1 at leaves
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray  # float32; leaf value at leaves
    default_left: np.ndarray  # bool


@dataclass
class Ensemble:
    objective: str
    base_score: float
    margin_offset: float  # added to the summed leaves to give the margin
    num_feature: int
    trees: List[Tree]


def _model_json(booster: xgb.Booster) -> dict:
    return json.loads(bytes(booster.save_raw("json")))


def _margin_offset(objective: str, base_score: float) -> float:
    """base_score through the objective's link, in float32 as XGBoost computes it."""
    b = np.float32(base_score)
    if objective == "binary:logistic":
        return float(np.float32(-np.log(np.float32(1.0) / b - np.float32(1.0))))
    return float(b)


def parse_booster(booster: xgb.Booster) -> Ensemble:
    model = _model_json(booster)
    learner = model["learner"]
    objective = learner["objective"]["name"]
    if objective not in SUPPORTED_OBJECTIVES:
        raise ValueError(f"unsupported objective {objective}; supported: {SUPPORTED_OBJECTIVES}")
    gb = learner["gradient_booster"]
    if gb["name"] != "gbtree":
        raise ValueError(f"only gbtree boosters are supported, got {gb['name']}")
    params = learner["learner_model_param"]
    if int(params.get("num_class", "0")) > 1 or int(params.get("num_target", "1")) != 1:
        raise ValueError("only single-output models are supported")
    base_score = float(params["base_score"])
    trees = []
    for t in gb["model"]["trees"]:
        if any(int(s) != 0 for s in t.get("split_type", [])):
            raise ValueError("categorical splits are not supported")
        if int(t["tree_param"].get("size_leaf_vector", "0")) > 1:
            raise ValueError("vector leaves are not supported")
        trees.append(
            Tree(
                left=np.asarray(t["left_children"], dtype=np.int64),
                right=np.asarray(t["right_children"], dtype=np.int64),
                feature=np.asarray(t["split_indices"], dtype=np.int64),
                threshold=np.asarray(t["split_conditions"], dtype=np.float32),
                default_left=np.asarray(t["default_left"], dtype=bool),
            )
        )
    return Ensemble(
        objective=objective,
        base_score=base_score,
        margin_offset=_margin_offset(objective, base_score),
        num_feature=int(params["num_feature"]),
        trees=trees,
    )


def leaf_sums(ensemble: Ensemble, x: np.ndarray) -> np.ndarray:
    """Sum of the reached leaves per row (float64), by walking the parsed trees: the converter's view."""
    x = np.asarray(x, dtype=np.float32)
    out = np.zeros(x.shape[0], dtype=np.float64)
    for t in ensemble.trees:
        node = np.zeros(x.shape[0], dtype=np.int64)
        while True:
            inner = t.left[node] >= 0
            if not inner.any():
                break
            rows = np.nonzero(inner)[0]
            n = node[rows]
            v = x[rows, t.feature[n]]
            go_left = np.where(np.isnan(v), t.default_left[n], v < t.threshold[n])
            node[rows] = np.where(go_left, t.left[n], t.right[n])
        out += t.threshold[node].astype(np.float64)
    return out


def check_margin_offset(booster: xgb.Booster, x: np.ndarray, tol: float = 1e-4) -> float:
    """Confirms margin = summed leaves + offset on sample rows; returns the offset."""
    ens = parse_booster(booster)
    margin = booster.predict(xgb.DMatrix(x, missing=np.nan), output_margin=True).astype(np.float64)
    observed = margin - leaf_sums(ens, x)
    err = np.max(np.abs(observed - ens.margin_offset))
    if err > tol:
        raise AssertionError(
            f"margin offset mismatch: expected {ens.margin_offset} from base_score {ens.base_score}, "
            f"observed {observed.mean()} (max error {err})"
        )
    return ens.margin_offset


def quantize_leaves(booster: xgb.Booster, headroom_bits: int = 1) -> tuple[xgb.Booster, float]:
    """Returns a copy of the booster whose leaf values are multiples of a power-of-two step chosen so that
    |offset| + sum over trees of max |leaf| < 2^(24 - headroom_bits) steps: every partial sum (in any order)
    is then exact in float32. The margin offset must already be a multiple of the step (e.g. base_score 0.5
    for binary:logistic, an integer base_score for regression). Returns (booster, step)."""
    model = _model_json(booster)
    ens = parse_booster(booster)
    bound = abs(ens.margin_offset)
    for t in ens.trees:
        bound += float(np.max(np.abs(t.threshold[t.left < 0])))
    bound *= 1.01  # rounding can push leaves up by half a step
    step = 2.0 ** (math.ceil(math.log2(bound)) - (24 - headroom_bits))
    if ens.margin_offset / step != round(ens.margin_offset / step):
        raise ValueError(f"margin offset {ens.margin_offset} is not a multiple of the grid step {step}")
    for t in model["learner"]["gradient_booster"]["model"]["trees"]:
        for i, left in enumerate(t["left_children"]):
            if left == -1:
                q = round(float(np.float32(t["split_conditions"][i])) / step) * step
                t["split_conditions"][i] = q
                t["base_weights"][i] = q
    out = xgb.Booster()
    out.load_model(bytearray(json.dumps(model).encode()))
    return out, step


def _ensemble_node(
    ens: Ensemble,
    leaf_targets: Callable[[int, int], Sequence[Tuple[int, float]]],
    n_targets: int,
    base_values: Optional[Sequence[float]],
    input_name: str,
    output_name: str,
    name: str,
) -> onnx.NodeProto:
    """A TreeEnsembleRegressor over the ensemble's trees; `leaf_targets(tree, node)` gives a leaf's
    (target id, weight) pairs."""
    treeids, nodeids, featureids, modes, values = [], [], [], [], []
    truenodeids, falsenodeids, missing_true = [], [], []
    t_treeids, t_nodeids, t_ids, t_weights = [], [], [], []
    for tid, t in enumerate(ens.trees):
        for nid in range(len(t.left)):
            treeids.append(tid)
            nodeids.append(nid)
            if t.left[nid] < 0:
                featureids.append(0)
                modes.append("LEAF")
                values.append(0.0)
                truenodeids.append(0)
                falsenodeids.append(0)
                missing_true.append(0)
                for target, weight in leaf_targets(tid, nid):
                    t_treeids.append(tid)
                    t_nodeids.append(nid)
                    t_ids.append(int(target))
                    t_weights.append(float(weight))
            else:
                featureids.append(int(t.feature[nid]))
                modes.append("BRANCH_LT")
                values.append(float(t.threshold[nid]))
                truenodeids.append(int(t.left[nid]))
                falsenodeids.append(int(t.right[nid]))
                missing_true.append(int(t.default_left[nid]))
    return helper.make_node(
        "TreeEnsembleRegressor",
        [input_name],
        [output_name],
        name=name,
        domain="ai.onnx.ml",
        n_targets=n_targets,
        aggregate_function="SUM",
        post_transform="NONE",
        **({} if base_values is None else {"base_values": list(base_values)}),
        nodes_treeids=treeids,
        nodes_nodeids=nodeids,
        nodes_featureids=featureids,
        nodes_modes=modes,
        nodes_values=values,
        nodes_truenodeids=truenodeids,
        nodes_falsenodeids=falsenodeids,
        nodes_missing_value_tracks_true=missing_true,
        target_treeids=t_treeids,
        target_nodeids=t_nodeids,
        target_ids=t_ids,
        target_weights=t_weights,
    )


def _tree_ensemble_node(ens: Ensemble, input_name: str, output_name: str, name: str) -> onnx.NodeProto:
    """One target: each leaf's value, plus the margin offset."""
    return _ensemble_node(
        ens, lambda tid, nid: [(0, float(ens.trees[tid].threshold[nid]))], 1, [ens.margin_offset], input_name, output_name, name
    )


def node_mean_values(tree: dict) -> np.ndarray:
    """XGBoost's FillNodeMeanValues for one tree of the model JSON: a leaf's value, or the cover-weighted mean
    of its children's, in float32 arithmetic as XGBoost computes it."""
    left, right = tree["left_children"], tree["right_children"]
    value = np.asarray(tree["split_conditions"], dtype=np.float32)
    hess = np.asarray(tree["sum_hessian"], dtype=np.float32)
    mean = np.zeros(len(left), dtype=np.float32)

    def fill(n: int) -> np.float32:
        if left[n] == -1:
            mean[n] = value[n]
        else:
            r = np.float32(fill(left[n]) * hess[left[n]])
            r = np.float32(r + np.float32(fill(right[n]) * hess[right[n]]))
            mean[n] = np.float32(r / hess[n])
        return mean[n]

    fill(0)
    return mean


def approx_leaf_contributions(booster: xgb.Booster) -> Tuple[List[dict], float]:
    """For every tree, {leaf node id: {feature: contribution}}: what XGBoost's
    pred_contribs(approx_contribs=True) adds for a row reaching that leaf (Saabas: along the path from the root,
    each split's feature gets the change in node mean value). Returns (per-tree dicts, bias): the bias is the
    margin offset plus every tree's root mean value."""
    ens = parse_booster(booster)
    trees = _model_json(booster)["learner"]["gradient_booster"]["model"]["trees"]
    per_tree: List[dict] = []
    bias = float(np.float32(ens.margin_offset))
    for t in trees:
        mean = node_mean_values(t)
        left, right, split = t["left_children"], t["right_children"], t["split_indices"]
        bias += float(mean[0])
        leaves: dict = {}

        def walk(n: int, acc: dict) -> None:
            if left[n] == -1:
                leaves[n] = acc
                return
            for child in (left[n], right[n]):
                step = dict(acc)
                f = int(split[n])
                step[f] = np.float32(step.get(f, np.float32(0)) + np.float32(mean[child] - mean[n]))
                walk(child, step)

        walk(0, {})
        per_tree.append(leaves)
    return per_tree, bias


def _contributions_node(booster: xgb.Booster, num_features: int, input_name: str, output_name: str) -> onnx.NodeProto:
    """A TreeEnsembleRegressor with num_features + 1 targets: each leaf carries its path's contribution per
    feature (approx_leaf_contributions), and every leaf of the first tree the bias (last target): each row
    reaches exactly one leaf of it, and onnxruntime leaves base_values out of a target no leaf names."""
    per_tree, bias = approx_leaf_contributions(booster)

    def targets(tid: int, nid: int) -> list:
        contribs = dict(per_tree[tid].get(nid, {}))
        if tid == 0:
            contribs[num_features] = np.float32(bias)
        return sorted(contribs.items())

    return _ensemble_node(parse_booster(booster), targets, num_features + 1, None, input_name, output_name, f"{output_name}_trees")


def build_model(
    targets: Sequence[Tuple[str, xgb.Booster]],
    num_features: int,
    graph_name: str = "xgboost",
    feature_names: Optional[Sequence[str]] = None,
    metadata: Optional[dict] = None,
    contributions: Optional[Tuple[str, xgb.Booster]] = None,
) -> onnx.ModelProto:
    """One ONNX model with input `features` float32 [batch, num_features] and one float32 [batch, 1] output per
    (output name, booster): the sigmoid of the margin for binary:logistic, the margin itself for
    reg:squarederror. Nodes are named after their output: `<name>_trees` (+ `<name>_margin` and
    `<name>_sigmoid` for a classifier). `contributions=(name, booster)` adds the output `<name>` float32
    [batch, num_features + 1]: the booster's approximate per-feature contributions to the margin, last column
    the bias (XGBoost's pred_contribs(approx_contribs=True)). A target whose booster is that same object takes
    its margin as their row sum (node `<name>_sum`, ReduceSum) instead of a second walk of the same trees:
    equal to the leaf sum up to float32 rounding of the contributions (~1e-7 on a probability)."""
    if not targets:
        raise ValueError("at least one (output name, booster) is required")
    names = [name for name, _ in targets] + ([contributions[0]] if contributions else [])
    if len(set(names)) != len(names) or "features" in names:
        raise ValueError(f"output names must be unique and differ from the input 'features': {names}")
    nodes = []
    # Targets of the contributions' own booster read their margin from the contributions' row sum (axis 1).
    summed = [name for name, booster in targets if contributions and booster is contributions[1]]
    initializers = [helper.make_tensor("sum_axes", TensorProto.INT64, [1], [1])] if summed else []
    if contributions:
        name, booster = contributions
        if parse_booster(booster).num_feature > num_features:
            raise ValueError(f"the booster of {name} uses more features than the input has ({num_features})")
        nodes.append(_contributions_node(booster, num_features, "features", name))
    for name, booster in targets:
        ens = parse_booster(booster)
        if ens.num_feature > num_features:
            raise ValueError(f"the booster of {name} uses {ens.num_feature} features, the input has {num_features}")
        margin = f"{name}_margin" if ens.objective == "binary:logistic" else name
        if name in summed:
            # Bias + per-feature contributions add up to the margin (Saabas: the path's changes in node mean value
            # telescope to the leaf value): one walk of the trees gives both.
            nodes.append(helper.make_node("ReduceSum", [contributions[0], "sum_axes"], [margin], name=f"{name}_sum", keepdims=1))
        else:
            nodes.append(_tree_ensemble_node(ens, "features", margin, f"{name}_trees"))
        if ens.objective == "binary:logistic":
            nodes.append(helper.make_node("Sigmoid", [margin], [name], name=f"{name}_sigmoid"))
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 1]) for name, _ in targets]
    if contributions:
        outputs.append(helper.make_tensor_value_info(contributions[0], TensorProto.FLOAT, ["batch", num_features + 1]))
    graph = helper.make_graph(
        nodes,
        graph_name,
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", num_features])],
        outputs=outputs,
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET)],
        producer_name=PRODUCER_NAME,
        producer_version=f"xgboost {xgb.__version__}",
        ir_version=IR_VERSION,
    )
    props = dict(metadata or {})
    if feature_names is not None:
        if len(feature_names) != num_features:
            raise ValueError(f"{len(feature_names)} feature names for {num_features} features")
        props["feature_names"] = json.dumps(list(feature_names))
    helper.set_model_props(model, {k: str(v) for k, v in props.items()})
    onnx.checker.check_model(model, full_check=True)
    return model


def to_onnx(
    classifier: xgb.Booster,
    regressor: xgb.Booster,
    num_features: int,
    feature_names: Optional[Sequence[str]] = None,
    metadata: Optional[dict] = None,
) -> onnx.ModelProto:
    """flight-delay's graph: outputs probability_delayed (sigmoid of the classifier margin) and
    expected_delay_minutes (the regressor), both float32 [batch, 1]."""
    if parse_booster(classifier).objective != "binary:logistic":
        raise ValueError("the classifier objective must be binary:logistic")
    if parse_booster(regressor).objective != "reg:squarederror":
        raise ValueError("the regressor objective must be reg:squarederror")
    return build_model(
        [("probability_delayed", classifier), ("expected_delay_minutes", regressor)],
        num_features,
        graph_name="flight_delay",
        feature_names=feature_names,
        metadata=metadata,
    )
