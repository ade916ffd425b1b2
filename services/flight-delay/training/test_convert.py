"""Tests of convert.py against an independent numpy interpreter of the ONNX TreeEnsembleRegressor.

    cd services/flight-delay && /usr/bin/python3 -m unittest discover -s training -p 'test_*.py'

Also (re)writes training/fixtures/converter-fixture.{onnx,json}, which src/converter-fixture.test.ts runs
through onnxruntime-node: the same converter, checked with the real runtime in CI without Python.
"""
from __future__ import annotations

import json
import unittest
from pathlib import Path

import numpy as np
import onnx
import xgboost as xgb
from onnx import helper

import convert

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures"
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
        assert a["n_targets"] == 1
        self.base = float(a["base_values"][0]) if "base_values" in a else 0.0
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
            assert tid == 0
            self.weights[(t, n)] = self.weights.get((t, n), 0.0) + float(np.float32(w))
        children = {(t, c) for (t, _), nd in self.nodes.items() if nd["mode"] != "LEAF" for c in (nd["true"], nd["false"])}
        self.roots = sorted(k for k in self.nodes if k not in children)

    def run(self, x: np.ndarray) -> np.ndarray:
        out = np.full(x.shape[0], self.base, dtype=np.float64)
        for r in range(x.shape[0]):
            for tree, node in self.roots:
                while True:
                    nd = self.nodes[(tree, node)]
                    if nd["mode"] == "LEAF":
                        out[r] += self.weights[(tree, node)]
                        break
                    assert nd["mode"] == "BRANCH_LT", nd["mode"]
                    v = x[r, nd["feature"]]
                    take_true = nd["missing_true"] if np.isnan(v) else v < nd["value"]
                    node = nd["true"] if take_true else nd["false"]
        return out


def interpret(model: onnx.ModelProto, x: np.ndarray) -> dict:
    g = model.graph
    ens = {n.output[0]: TreeEnsembleInterpreter(n) for n in g.node if n.op_type == "TreeEnsembleRegressor"}
    (sig,) = [n for n in g.node if n.op_type == "Sigmoid"]
    margin = ens[sig.input[0]].run(x)
    return {
        sig.output[0]: 1.0 / (1.0 + np.exp(-margin)),
        "expected_delay_minutes": ens["expected_delay_minutes"].run(x),
        "_margin": margin,
    }


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
        node = next(n for n in self.model.graph.node if n.name == "classifier_trees")
        interp = TreeEnsembleInterpreter(node)
        branch = [nd for nd in interp.nodes.values() if nd["mode"] == "BRANCH_LT"]
        self.assertGreater(len(branch), 25)  # more than one split per tree: depth > 1
        self.assertEqual({nd["missing_true"] for nd in branch}, {True, False})
        self.assertTrue(np.isnan(self.x_test).any())

    def test_matches_xgboost(self):
        got = interpret(self.model, self.x_test)
        d = xgb.DMatrix(self.x_test, missing=np.nan)
        np.testing.assert_allclose(got["_margin"], self.cls.predict(d, output_margin=True), rtol=0, atol=TOL)
        np.testing.assert_allclose(got["probability_delayed"], self.cls.predict(d), rtol=0, atol=TOL)
        np.testing.assert_allclose(got["expected_delay_minutes"], self.reg.predict(d), rtol=0, atol=TOL)

    def test_thresholds_are_exact_float32(self):
        # Rows sitting exactly on a threshold must go right (x < t is false), in XGBoost and in the graph.
        node = next(n for n in self.model.graph.node if n.name == "regressor_trees")
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


class FixtureTest(unittest.TestCase):
    """Writes the tiny fixture the jest test feeds to onnxruntime-node (deterministic: same bytes each run)."""

    def test_write_fixture(self):
        f = 4
        x, y_cls, y_reg = random_data(3, 500, f, nan_fraction=0.15)
        cls, reg = fit_pair(x, y_cls, y_reg, trees=6, depth=3, cls_base_score=0.5, reg_base_score=1.0)
        model = convert.to_onnx(cls, reg, f, feature_names=[f"f{i}" for i in range(f)], metadata={"purpose": "converter fixture"})
        x_in, _, _ = random_data(4, 24, f, nan_fraction=0.2)
        d = xgb.DMatrix(x_in, missing=np.nan)
        prob, minutes = cls.predict(d), reg.predict(d)
        got = interpret(model, x_in)
        np.testing.assert_allclose(got["probability_delayed"], prob, rtol=0, atol=TOL)
        np.testing.assert_allclose(got["expected_delay_minutes"], minutes, rtol=0, atol=TOL)

        FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
        (FIXTURE_DIR / "converter-fixture.onnx").write_bytes(model.SerializeToString())
        fixture = {
            "description": "tiny XGBoost classifier + regressor converted by training/convert.py; outputs are XGBoost's",
            "feature_count": f,
            "tolerance": TOL,
            "rows": [
                {
                    "features": [None if np.isnan(v) else float(v) for v in row],
                    "probability_delayed": float(p),
                    "expected_delay_minutes": float(m),
                }
                for row, p, m in zip(x_in, prob, minutes)
            ],
        }
        (FIXTURE_DIR / "converter-fixture.json").write_text(json.dumps(fixture, indent=1) + "\n")
        self.assertLess((FIXTURE_DIR / "converter-fixture.onnx").stat().st_size, 20_000)


if __name__ == "__main__":
    unittest.main()
