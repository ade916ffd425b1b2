"""Tests of convert.py against an independent numpy interpreter of the ONNX TreeEnsembleRegressor.

    cd packages/model-tools/python && /usr/bin/python3 -m unittest -v test_convert

Also (re)writes fixtures/converter-fixture.{onnx,json} (flight-delay's classifier + regressor pair) and
fixtures/regressor-fixture.{onnx,json} (taxi-eta's single log_duration regressor), which
src/converter-fixture.test.ts runs through onnxruntime-node: the same converter, checked with the real runtime
in CI without Python.
"""
from __future__ import annotations

import json
import unittest
from pathlib import Path

import numpy as np
import onnx
import xgboost as xgb
from onnx import helper, numpy_helper

import convert

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "fixtures"
TOL = 1e-5


def random_data(seed: int, rows: int, features: int, nan_fraction: float = 0.1):
    rs = np.random.RandomState(seed)
    x = rs.normal(size=(rows, features)).astype(np.float32)
    signal = x[:, 0] - 0.7 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
    # Missing values that carry signal, so that both default directions get learned.
    mask = rs.rand(rows, features) < nan_fraction
    signal = signal + np.where(mask[:, 1], 1.5, 0.0) - np.where(mask[:, 0], 1.0, 0.0)
    x[mask] = np.nan
    y_cls = (signal + rs.normal(scale=0.5, size=rows) > 0.2).astype(np.float32)
    y_reg = (3 * signal + rs.normal(scale=1.0, size=rows) + 2).astype(np.float32)
    return x, y_cls, y_reg


def fit_pair(x, y_cls, y_reg, trees: int, depth: int, cls_base_score: float = 0.5, reg_base_score: float = 5.0):
    common = dict(tree_method="hist", max_depth=depth, eta=0.3, seed=7, nthread=1, max_bin=64)
    cls = xgb.train(
        dict(common, objective="binary:logistic", base_score=cls_base_score), xgb.DMatrix(x, label=y_cls, missing=np.nan), trees
    )
    reg = xgb.train(
        dict(common, objective="reg:squarederror", base_score=reg_base_score), xgb.DMatrix(x, label=y_reg, missing=np.nan), trees
    )
    return cls, reg


class TreeEnsembleInterpreter:
    """TreeEnsembleRegressor semantics, read from the node attributes of the ONNX proto (not from XGBoost)."""

    def __init__(self, node: onnx.NodeProto):
        a = {attr.name: helper.get_attribute_value(attr) for attr in node.attribute}
        self.attrs = a
        assert a["aggregate_function"] in (b"SUM", "SUM")
        assert a["post_transform"] in (b"NONE", "NONE")
        self.targets = int(a["n_targets"])
        self.base = np.asarray(a["base_values"], dtype=np.float64) if "base_values" in a else np.zeros(self.targets)
        self.nodes = {}
        for i, (t, n) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"])):
            mode = a["nodes_modes"][i]
            self.nodes[(t, n)] = dict(
                mode=mode.decode() if isinstance(mode, bytes) else mode,
                feature=a["nodes_featureids"][i],
                value=np.float32(a["nodes_values"][i]),
                true=a["nodes_truenodeids"][i],
                false=a["nodes_falsenodeids"][i],
                missing_true=bool(a.get("nodes_missing_value_tracks_true", [0] * len(a["nodes_treeids"]))[i]),
            )
        self.weights = {}
        for t, n, tid, w in zip(a["target_treeids"], a["target_nodeids"], a["target_ids"], a["target_weights"]):
            assert 0 <= tid < self.targets
            self.weights.setdefault((t, n), np.zeros(self.targets))[tid] += float(np.float32(w))
        children = {(t, c) for (t, _), nd in self.nodes.items() if nd["mode"] != "LEAF" for c in (nd["true"], nd["false"])}
        self.roots = sorted(k for k in self.nodes if k not in children)

    def run(self, x: np.ndarray) -> np.ndarray:
        """[rows] for one target, [rows, n_targets] otherwise."""
        out = np.tile(self.base, (x.shape[0], 1))
        for r in range(x.shape[0]):
            for tree, node in self.roots:
                while True:
                    nd = self.nodes[(tree, node)]
                    if nd["mode"] == "LEAF":
                        out[r] += self.weights.get((tree, node), 0.0)
                        break
                    assert nd["mode"] == "BRANCH_LT", nd["mode"]
                    v = x[r, nd["feature"]]
                    take_true = nd["missing_true"] if np.isnan(v) else v < nd["value"]
                    node = nd["true"] if take_true else nd["false"]
        return out[:, 0] if self.targets == 1 else out


def interpret(model: onnx.ModelProto, x: np.ndarray) -> dict:
    """Every graph output (and each classifier's `<name>_margin`) from the node attributes alone."""
    values = {}
    for n in model.graph.node:
        if n.op_type == "TreeEnsembleRegressor":
            values[n.output[0]] = TreeEnsembleInterpreter(n).run(x)
        elif n.op_type == "Sigmoid":
            values[n.output[0]] = 1.0 / (1.0 + np.exp(-values[n.input[0]]))
        elif n.op_type == "ReduceSum":
            axes = [int(a) for a in numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == n.input[1]))]
            keepdims = next((helper.get_attribute_value(a) for a in n.attribute if a.name == "keepdims"), 1)
            # Kept [rows, 1] sums as [rows], like a one-target ensemble's output above.
            summed = values[n.input[0]].sum(axis=tuple(axes), keepdims=bool(keepdims))
            values[n.output[0]] = summed[:, 0] if summed.ndim == 2 and summed.shape[1] == 1 else summed
        else:
            raise AssertionError(f"unexpected node {n.op_type}")
    return values


class ConvertTest(unittest.TestCase):
    F = 6

    @classmethod
    def setUpClass(cls):
        cls.x, cls.y_cls, cls.y_reg = random_data(1, 3000, cls.F)
        cls.cls, cls.reg = fit_pair(cls.x, cls.y_cls, cls.y_reg, trees=25, depth=4)
        cls.model = convert.to_onnx(cls.cls, cls.reg, cls.F, feature_names=[f"f{i}" for i in range(cls.F)])
        cls.x_test, _, _ = random_data(2, 400, cls.F, nan_fraction=0.2)

    def test_graph_contract(self):
        m = self.model
        self.assertEqual(m.ir_version, 8)
        opsets = {o.domain: o.version for o in m.opset_import}
        self.assertEqual(opsets, {"": 17, "ai.onnx.ml": 3})
        (inp,) = m.graph.input
        self.assertEqual(inp.name, "features")
        self.assertEqual(inp.type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        dims = inp.type.tensor_type.shape.dim
        self.assertEqual((dims[0].dim_param, dims[1].dim_value), ("batch", self.F))
        self.assertEqual([o.name for o in m.graph.output], ["probability_delayed", "expected_delay_minutes"])
        for o in m.graph.output:
            d = o.type.tensor_type.shape.dim
            self.assertEqual(o.type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
            self.assertEqual((d[0].dim_param, d[1].dim_value), ("batch", 1))
        self.assertEqual(json.loads({p.key: p.value for p in m.metadata_props}["feature_names"]), [f"f{i}" for i in range(self.F)])

    def test_trees_are_deep_and_use_both_missing_directions(self):
        node = next(n for n in self.model.graph.node if n.name == "probability_delayed_trees")
        interp = TreeEnsembleInterpreter(node)
        branch = [nd for nd in interp.nodes.values() if nd["mode"] == "BRANCH_LT"]
        self.assertGreater(len(branch), 25)  # more than one split per tree: depth > 1
        self.assertEqual({nd["missing_true"] for nd in branch}, {True, False})
        self.assertTrue(np.isnan(self.x_test).any())

    def test_matches_xgboost(self):
        got = interpret(self.model, self.x_test)
        d = xgb.DMatrix(self.x_test, missing=np.nan)
        np.testing.assert_allclose(got["probability_delayed_margin"], self.cls.predict(d, output_margin=True), rtol=0, atol=TOL)
        np.testing.assert_allclose(got["probability_delayed"], self.cls.predict(d), rtol=0, atol=TOL)
        np.testing.assert_allclose(got["expected_delay_minutes"], self.reg.predict(d), rtol=0, atol=TOL)

    def test_thresholds_are_exact_float32(self):
        # Rows sitting exactly on a threshold must go right (x < t is false), in XGBoost and in the graph.
        node = next(n for n in self.model.graph.node if n.name == "expected_delay_minutes_trees")
        interp = TreeEnsembleInterpreter(node)
        rows = []
        for i, nd in enumerate(v for v in interp.nodes.values() if v["mode"] == "BRANCH_LT"):
            for r in range(4):
                row = self.x[(7 * i + r) % len(self.x)].copy()
                row[nd["feature"]] = nd["value"]
                rows.append(row)
        on_edge = np.stack(rows)
        got = interpret(self.model, on_edge)
        np.testing.assert_allclose(got["expected_delay_minutes"], self.reg.predict(xgb.DMatrix(on_edge)), rtol=0, atol=TOL)

    def test_margin_offset_follows_base_score(self):
        cls, reg = fit_pair(self.x, self.y_cls, self.y_reg, trees=5, depth=2, cls_base_score=0.3, reg_base_score=-2.5)
        self.assertAlmostEqual(convert.check_margin_offset(cls, self.x_test), np.log(0.3 / 0.7), places=5)
        self.assertAlmostEqual(convert.check_margin_offset(reg, self.x_test), -2.5, places=6)
        got = interpret(convert.to_onnx(cls, reg, self.F), self.x_test)
        d = xgb.DMatrix(self.x_test, missing=np.nan)
        np.testing.assert_allclose(got["probability_delayed"], cls.predict(d), rtol=0, atol=TOL)
        np.testing.assert_allclose(got["expected_delay_minutes"], reg.predict(d), rtol=0, atol=TOL)

    def test_quantized_leaves_sum_exactly_in_float32(self):
        q, step = convert.quantize_leaves(self.reg)
        ens = convert.parse_booster(q)
        leaves = np.concatenate([t.threshold[t.left < 0] for t in ens.trees]).astype(np.float64)
        np.testing.assert_array_equal(np.round(leaves / step) * step, leaves)
        d = xgb.DMatrix(self.x_test, missing=np.nan)
        before, after = self.reg.predict(d), q.predict(d)
        self.assertLessEqual(np.max(np.abs(before - after)), len(ens.trees) * step / 2 + 1e-6)
        # float32 XGBoost output == exact (float64) sum of base + leaves, whatever the order.
        exact = convert.leaf_sums(ens, self.x_test) + ens.margin_offset
        np.testing.assert_array_equal(after.astype(np.float64), exact)
        np.testing.assert_array_equal(interpret(convert.to_onnx(self.cls, q, self.F), self.x_test)["expected_delay_minutes"], exact)


class SingleRegressorTest(unittest.TestCase):
    """taxi-eta's shape: one reg:squarederror booster on a log target, output `log_duration`, quantized leaves."""

    F = 5

    @classmethod
    def setUpClass(cls):
        x, _, y = random_data(5, 3000, cls.F)
        cls.x_test, _, _ = random_data(6, 400, cls.F, nan_fraction=0.2)
        booster = xgb.train(
            dict(tree_method="hist", max_depth=5, eta=0.3, seed=7, nthread=1, max_bin=64, objective="reg:squarederror", base_score=6.0),
            xgb.DMatrix(x, label=np.log1p(np.abs(y) * 100).astype(np.float32), missing=np.nan),
            30,
        )
        cls.booster, cls.step = convert.quantize_leaves(booster)
        cls.model = convert.build_model([("log_duration", cls.booster)], cls.F, graph_name="taxi_eta")

    def test_graph_contract(self):
        g = self.model.graph
        self.assertEqual(g.name, "taxi_eta")
        self.assertEqual([i.name for i in g.input], ["features"])
        self.assertEqual([o.name for o in g.output], ["log_duration"])
        self.assertEqual([n.name for n in g.node], ["log_duration_trees"])
        d = g.output[0].type.tensor_type.shape.dim
        self.assertEqual((d[0].dim_param, d[1].dim_value), ("batch", 1))
        self.assertNotIn("feature_names", {p.key for p in self.model.metadata_props})

    def test_matches_xgboost_exactly(self):
        want = self.booster.predict(xgb.DMatrix(self.x_test, missing=np.nan)).astype(np.float64)
        np.testing.assert_array_equal(interpret(self.model, self.x_test)["log_duration"], want)

    def test_refuses_bad_targets(self):
        with self.assertRaisesRegex(ValueError, "at least one"):
            convert.build_model([], self.F)
        with self.assertRaisesRegex(ValueError, "unique"):
            convert.build_model([("y", self.booster), ("y", self.booster)], self.F)
        with self.assertRaisesRegex(ValueError, "differ from the input"):
            convert.build_model([("features", self.booster)], self.F)
        with self.assertRaisesRegex(ValueError, "uses 5 features, the input has 3"):
            convert.build_model([("y", self.booster)], 3)
        with self.assertRaisesRegex(ValueError, "2 feature names for 5 features"):
            convert.build_model([("y", self.booster)], self.F, feature_names=["a", "b"])
        with self.assertRaisesRegex(ValueError, "classifier objective"):
            convert.to_onnx(self.booster, self.booster, self.F)

    def test_refuses_unsupported_objectives(self):
        x, _, y = random_data(7, 300, self.F)
        poisson = xgb.train(dict(objective="count:poisson", nthread=1, max_depth=2), xgb.DMatrix(x, label=np.abs(y)), 2)
        with self.assertRaisesRegex(ValueError, "unsupported objective count:poisson"):
            convert.build_model([("y", poisson)], self.F)


def write_fixture(name: str, description: str, model: onnx.ModelProto, features: int, x_in: np.ndarray, outputs: dict) -> None:
    """fixtures/<name>.{onnx,json}: the model and, per row, its features (null = missing) and XGBoost's outputs."""
    got = interpret(model, x_in)
    for output, want in outputs.items():
        np.testing.assert_allclose(got[output], want, rtol=0, atol=TOL)
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    (FIXTURE_DIR / f"{name}.onnx").write_bytes(model.SerializeToString())
    fixture = {
        "description": description,
        "feature_count": features,
        "tolerance": TOL,
        "outputs": list(outputs),
        "rows": [
            {"features": [None if np.isnan(v) else float(v) for v in row], **{o: float(outputs[o][i]) for o in outputs}}
            for i, row in enumerate(x_in)
        ],
    }
    (FIXTURE_DIR / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")


class ContributionsTest(unittest.TestCase):
    """build_model(contributions=...): XGBoost's approximate contributions as a multi-target ensemble; a target
    of the same booster reads its margin from their row sum (one walk of the trees)."""

    F = 6

    @classmethod
    def setUpClass(cls):
        x, y_cls, _ = random_data(11, 3000, cls.F)
        booster, _ = fit_pair(x, y_cls, y_cls, trees=25, depth=4)
        cls.booster, _ = convert.quantize_leaves(booster)
        cls.model = convert.build_model([("p", cls.booster)], cls.F, contributions=("contributions", cls.booster))
        cls.x = random_data(12, 400, cls.F)[0]

    def test_graph_contract(self):
        outputs = {o.name: [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim] for o in self.model.graph.output}
        self.assertEqual(outputs, {"p": ["batch", 1], "contributions": ["batch", self.F + 1]})

    def test_matches_xgboost_approx_contribs(self):
        got = interpret(self.model, self.x)
        want = self.booster.predict(xgb.DMatrix(self.x, missing=np.nan), pred_contribs=True, approx_contribs=True)
        np.testing.assert_allclose(got["contributions"], want, atol=TOL)
        margin = self.booster.predict(xgb.DMatrix(self.x, missing=np.nan), output_margin=True)
        np.testing.assert_allclose(got["contributions"].sum(axis=1), margin, atol=1e-4)

    def test_one_ensemble_when_the_target_is_the_contributions_booster(self):
        ops = [n.op_type for n in self.model.graph.node]
        self.assertEqual(ops, ["TreeEnsembleRegressor", "ReduceSum", "Sigmoid"])

    def test_probability_from_the_contributions_matches_xgboost(self):
        got = interpret(self.model, self.x)
        want = self.booster.predict(xgb.DMatrix(self.x, missing=np.nan))
        np.testing.assert_allclose(got["p"], want, atol=TOL)
        np.testing.assert_allclose(got["p_margin"], got["contributions"].sum(axis=1), atol=1e-12)

    def test_another_booster_keeps_its_own_ensemble(self):
        x, y_cls, _ = random_data(13, 3000, self.F)
        other, _ = fit_pair(x, y_cls, y_cls, trees=10, depth=3)
        model = convert.build_model([("q", other)], self.F, contributions=("contributions", self.booster))
        self.assertEqual([n.op_type for n in model.graph.node], ["TreeEnsembleRegressor", "TreeEnsembleRegressor", "Sigmoid"])
        got = interpret(model, self.x)
        np.testing.assert_allclose(got["q"], other.predict(xgb.DMatrix(self.x, missing=np.nan)), atol=TOL)

    def test_refuses_a_clashing_name(self):
        with self.assertRaises(ValueError):
            convert.build_model([("p", self.booster)], self.F, contributions=("p", self.booster))


class FixtureTest(unittest.TestCase):
    """Writes the tiny fixtures the jest test feeds to onnxruntime-node (deterministic: same bytes each run)."""

    def test_write_pair_fixture(self):
        f = 4
        x, y_cls, y_reg = random_data(3, 500, f, nan_fraction=0.15)
        cls, reg = fit_pair(x, y_cls, y_reg, trees=6, depth=3, cls_base_score=0.5, reg_base_score=1.0)
        model = convert.to_onnx(cls, reg, f, feature_names=[f"f{i}" for i in range(f)], metadata={"purpose": "converter fixture"})
        x_in, _, _ = random_data(4, 24, f, nan_fraction=0.2)
        d = xgb.DMatrix(x_in, missing=np.nan)
        outputs = {"probability_delayed": cls.predict(d), "expected_delay_minutes": reg.predict(d)}
        write_fixture("converter-fixture", "tiny XGBoost classifier + regressor converted by python/convert.py to_onnx; outputs are XGBoost's", model, f, x_in, outputs)
        self.assertLess((FIXTURE_DIR / "converter-fixture.onnx").stat().st_size, 20_000)

    def test_write_regressor_fixture(self):
        f = 4
        x, _, y = random_data(8, 500, f, nan_fraction=0.15)
        booster = xgb.train(
            dict(tree_method="hist", max_depth=3, eta=0.3, seed=7, nthread=1, max_bin=64, objective="reg:squarederror", base_score=6.0),
            xgb.DMatrix(x, label=(6 + 0.3 * y).astype(np.float32), missing=np.nan),
            8,
        )
        quantized, _ = convert.quantize_leaves(booster)
        model = convert.build_model([("log_duration", quantized)], f, graph_name="regressor_fixture", metadata={"purpose": "converter fixture"})
        x_in, _, _ = random_data(9, 24, f, nan_fraction=0.2)
        outputs = {"log_duration": quantized.predict(xgb.DMatrix(x_in, missing=np.nan))}
        write_fixture("regressor-fixture", "tiny quantized XGBoost regressor converted by python/convert.py build_model; outputs are XGBoost's", model, f, x_in, outputs)
        self.assertLess((FIXTURE_DIR / "regressor-fixture.onnx").stat().st_size, 20_000)


if __name__ == "__main__":
    unittest.main()
