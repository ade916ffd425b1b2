"""Fits the vehicle classifier (a small CNN, PyTorch from Debian's python3-torch) on the tensors training/render-data.ts
wrote through the service's own preprocessing, scores it on the validation and shifted sets, and writes
model/<MODEL_VERSION>/: model.onnx (dynamic batch), golden.json, evaluation.json and the card model.json.

    /usr/bin/python3 training/fit.py            (train.sh runs it; MODEL_VERSION must be set)
Environment: FIT_EPOCHS (default 18), FIT_THREADS (torch threads, default 2), FIT_SEED (default 7),
FIT_WIDTHS (channels of the four conv blocks, default 24,48,96,128).
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SERVICE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SERVICE_DIR.parent.parent / "packages" / "model-tools" / "python"))
import fitting  # noqa: E402

DATA = SERVICE_DIR / "training" / "data"
MODEL_ROOT = SERVICE_DIR / "model"
GOLDEN_TOLERANCE = 1e-4
log = fitting.logger("fit")


WIDTHS = tuple(int(w) for w in os.environ.get("FIT_WIDTHS", "24,48,96,128").split(","))


class Standardise(nn.Module):
    """Per-image, per-channel standardisation inside the graph: subtracts each channel's mean over the picture and
    divides by the picture's standard deviation, so global brightness, contrast and colour casts (lighting, camera)
    do not reach the convolutions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(dim=(2, 3), keepdim=True)
        return centred / (centred.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt() + 0.05)


class VehicleNet(nn.Module):
    """In-graph per-image standardisation, four 3×3 conv blocks (batch norm, ReLU; max-pool after the first three),
    global average pooling, dropout, one linear layer."""

    def __init__(self, classes: int, widths: tuple[int, ...] = WIDTHS):
        super().__init__()

        def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            return layers + ([nn.MaxPool2d(2)] if pool else [])

        a, b, c, d = widths
        self.features = nn.Sequential(Standardise(), *block(3, a, True), *block(a, b, True), *block(b, c, True), *block(c, d, False))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(d, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class WithSoftmax(nn.Module):
    """What is exported: image float32 [N, 3, S, S] → probabilities float32 [N, classes]."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(image), dim=1)


def augment(xb: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Training-time augmentation of the service's tensors (what the preprocessing produced stays the input):
    mirror, zoom in and out (0.7-1.45), aspect, shear, rotation (±9°) and shift in one affine resampling with
    border padding; channel permutation, grayscale, per-channel gain, contrast and brightness; cut-out."""
    n = xb.shape[0]
    scale = rng.uniform(0.7, 1.45, n)
    sx = scale * rng.uniform(0.8, 1.25, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    sy = scale
    rot = rng.uniform(-0.16, 0.16, n)
    shear = rng.uniform(-0.3, 0.3, n)
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0] = sx * np.cos(rot)
    theta[:, 0, 1] = -sy * np.sin(rot) + shear * sy
    theta[:, 1, 0] = sx * np.sin(rot)
    theta[:, 1, 1] = sy * np.cos(rot)
    theta[:, 0, 2] = rng.uniform(-0.2, 0.2, n)
    theta[:, 1, 2] = rng.uniform(-0.15, 0.15, n)
    grid = F.affine_grid(torch.from_numpy(theta), list(xb.shape), align_corners=False)
    xb = F.grid_sample(xb, grid, padding_mode="border", align_corners=False)
    for i in np.nonzero(rng.random(n) < 0.5)[0]:
        xb[i] = xb[i][torch.from_numpy(rng.permutation(3))]
    grey = torch.from_numpy(rng.random(n) < 0.25)[:, None, None, None]
    xb = torch.where(grey, xb.mean(1, keepdim=True).expand_as(xb), xb)
    gain = torch.from_numpy(rng.uniform(0.8, 1.2, (n, 3, 1, 1)).astype(np.float32))
    contrast = torch.from_numpy(rng.uniform(0.6, 1.4, (n, 1, 1, 1)).astype(np.float32))
    shift = torch.from_numpy(rng.uniform(-0.35, 0.35, (n, 1, 1, 1)).astype(np.float32))
    xb = (xb * gain * contrast + shift).clamp(-1, 1)
    size = xb.shape[-1]
    for i in np.nonzero(rng.random(n) < 0.35)[0]:
        ch, cw = rng.integers(8, size // 2, 2)
        y0, x0 = rng.integers(0, size - ch), rng.integers(0, size - cw)
        xb[i, :, y0 : y0 + ch, x0 : x0 + cw] = float(rng.uniform(-1, 1))
    return xb


def conv_macs(net: VehicleNet, size: int) -> int:
    """Multiply-adds of the convolutions for one size x size image (the rest of the graph is negligible)."""
    macs, side = 0, size
    for layer in net.features:
        if isinstance(layer, nn.Conv2d):
            macs += layer.in_channels * layer.out_channels * 9 * side * side
        elif isinstance(layer, nn.MaxPool2d):
            side //= 2
    return macs


def load(name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    x = fitting.read_array(DATA / f"{name}.f32", "<f4").reshape(-1, 3, size, size)
    y = fitting.read_array(DATA / f"{name}.labels.u8", "u1").astype(np.int64)
    return x, y


def probabilities(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 256):
            out.append(torch.softmax(model(torch.from_numpy(x[i : i + 256])), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def scores(p: np.ndarray, y: np.ndarray, classes: list[str]) -> dict:
    pred = p.argmax(1)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=int)
    for t, q in zip(y, pred):
        confusion[t, q] += 1
    per_class = {c: round(float(confusion[i, i] / max(1, confusion[i].sum())), 4) for i, c in enumerate(classes)}
    return {
        "images": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 4),
        "per_class_recall": per_class,
        "confusion_matrix": {"rows_true_columns_predicted": classes, "counts": confusion.tolist()},
    }


def main() -> None:
    version = os.environ.get("MODEL_VERSION")
    if not version:
        sys.exit("MODEL_VERSION is not set (train.sh sets it)")
    epochs = int(os.environ.get("FIT_EPOCHS", "18"))
    torch.set_num_threads(int(os.environ.get("FIT_THREADS", "2")))
    seed = int(os.environ.get("FIT_SEED", "7"))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    meta = json.loads((DATA / "meta.json").read_text())
    classes: list[str] = meta["classes"]
    size = meta["input"]["shape"][2]
    x, y = load("train", size)
    xv, yv = load("val", size)
    shifted = load("shifted", size) if (DATA / "shifted.f32").exists() else None
    log(f"torch {torch.__version__}; {len(x)} train, {len(xv)} validation, {0 if shifted is None else len(shifted[1])} shifted images of {size}x{size}; {epochs} epochs")

    net = VehicleNet(len(classes))
    params = sum(p.numel() for p in net.parameters())
    batch = 64
    steps = epochs * ((len(x) + batch - 1) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.2)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    t0 = time.time()
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            xb = augment(torch.from_numpy(x[idx]), rng)
            opt.zero_grad()
            loss = loss_fn(net(xb), torch.from_numpy(y[idx]))
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        acc = scores(probabilities(net, xv), yv, classes)["accuracy"]
        log(f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, validation accuracy {acc:.4f} ({time.time() - t0:.0f} s)")
    train_seconds = time.time() - t0

    net.eval()
    val_scores = scores(probabilities(net, xv), yv, classes)
    shifted_scores = scores(probabilities(net, shifted[0]), shifted[1], classes) if shifted is not None else None
    log(f"validation accuracy {val_scores['accuracy']:.4f}; shifted {shifted_scores['accuracy'] if shifted_scores else 'n/a'}")

    out_dir = MODEL_ROOT / version
    out_dir.mkdir(parents=True, exist_ok=False)
    exported = WithSoftmax(net).eval()
    torch.onnx.export(
        exported,
        torch.from_numpy(xv[:2]),
        str(out_dir / "model.onnx"),
        input_names=["image"],
        output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=13,
        do_constant_folding=True,
    )
    import onnx

    graph = onnx.load(str(out_dir / "model.onnx"))
    onnx.checker.check_model(graph)

    # Parity material for check-parity.ts: PyTorch's probabilities of the validation and shifted tensors.
    np.concatenate([probabilities(exported.net, xv)] + ([probabilities(exported.net, shifted[0])] if shifted else [])).astype("<f4").tofile(DATA / "heldout.predictions.f32")

    golden_meta = json.loads((DATA / "golden.json").read_text())
    xg, _ = load("golden", size)
    pg = probabilities(net, xg)
    rows = [
        {"name": g["name"], "label": classes[int(np.argmax(p))], "true_label": classes[g["label"]], "input": {"image_base64": g["image_base64"]}, "probabilities": [float(v) for v in p]}
        for g, p in zip(golden_meta, pg)
    ]
    fitting.write_golden(out_dir, version, GOLDEN_TOLERANCE, rows, note="uploads (base64) through the service's preprocessing and the graph must reproduce PyTorch's probabilities within the tolerance")
    (out_dir / "evaluation.json").write_text((DATA / "evaluation.json").read_text())

    onnx_bytes = (out_dir / "model.onnx").read_bytes()
    card = {
        "name": "vehicle-classifier",
        "version": version,
        "description": (
            f"SYNTHETIC DATA. Vehicle type ({', '.join(classes)}) of the one vehicle in a photo, by a small CNN on a {size}x{size} RGB input. "
            f"Held-out renders accuracy {val_scores['accuracy']:.4f}; shifted renders (unseen backgrounds, colours, scales, viewpoints, lighting) "
            f"{shifted_scores['accuracy'] if shifted_scores else 'n/a'}. Trained on procedurally rendered pictures only: expect lower accuracy on real photos until retrained on them (training/README.md)."
        ),
        "trained_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "framework": f"pytorch {torch.__version__} (Debian python3-torch), exported by torch.onnx (opset 13, dynamic batch)",
        "candidate": fitting.is_candidate(MODEL_ROOT, version),
        "inputs": [{"name": "image", "type": "float32", "shape": [-1, 3, size, size]}],
        "outputs": [{"name": "probabilities", "type": "float32", "shape": [-1, len(classes)]}],
        "classes": classes,
        "preprocessing": (
            "src/image.ts toPixels (the same code wrote the training tensors): format sniffed from the bytes (JPEG, PNG, WebP), "
            "first frame, EXIF auto-orient, alpha flattened on grey 128, to 8-bit sRGB, resized to "
            f"{size}x{size} with fit 'fill' (aspect squeezed, whole vehicle kept), (v/255 - 0.5)/0.5, channel-major"
        ),
        "input_size": {
            "pixels": [size, size],
            "why": (
                f"{size}x{size} keeps what tells the classes apart in these pictures (wheel count and size against body length, "
                f"window rows, cab/cargo split, open bicycle frames) while costing ~{conv_macs(net, size) / 1e6:.0f} M multiply-adds per image, a fraction of the "
                "~2.5 ms sharp needs to decode a 640x480 JPEG, so decoding, not the model, bounds the serving rate; 96x96 would cost "
                "2.25x the compute and training time, 32x32 loses bicycle spokes and bus windows."
            ),
        },
        "architecture": {
            "summary": VehicleNet.__doc__.replace("\n    ", " ").strip(),
            "conv_channels": list(WIDTHS),
            "parameters": int(params),
            "multiply_adds_per_image": conv_macs(net, size),
        },
        "data": {
            "SYNTHETIC": meta["source"]["kind"] == "synthetic",
            "source": meta["source"],
            "counts": meta["counts"],
            "description": (
                "Pictures rendered by training/render.ts (seeded SVG scenes rasterised by sharp): per-class body proportions, wheel counts "
                "and sizes, side and three-quarter views, mirrored, rotated up to 6 degrees, scaled, shifted and cropped by the frame, posts, "
                "bushes, signs and boxes in front, street/field/gradient/noise/clutter/check-dot-grid pattern backgrounds, relit, sometimes blurred, JPEG (quality 30-95), "
                "PNG or WebP. The shifted test set (another seed, the 'shifted' domain) uses dusk/stripes/brick/coarse-noise backgrounds, "
                "pastel, grey (saturation < 12 %) and near-black bodies, smaller and larger vehicles, stronger three-quarter views and rotations, darker and "
                "brighter lighting, more occlusion."
            ),
        },
        "training": {
            "epochs": epochs,
            "batch": batch,
            "optimizer": "AdamW lr 3e-3 one-cycle, weight decay 1e-4, label smoothing 0.05",
            "augmentation": augment.__doc__.replace("\n    ", " ").strip(),
            "seconds": round(train_seconds, 1),
            "threads": torch.get_num_threads(),
            "seed": seed,
        },
        "metrics": {"validation": val_scores, "shifted": shifted_scores},
        "targets": {"validation_accuracy": 0.95, "shifted_accuracy": 0.80},
        "gate": {"metric": "accuracy", "direction": "higher", "prediction": "label"},
        "golden_tolerance": GOLDEN_TOLERANCE,
        **{"onnx_sha256": fitting.sha256_hex(onnx_bytes)},
    }
    card["files"] = fitting.version_files(out_dir)
    (out_dir / "model.json").write_text(json.dumps(card, indent=1) + "\n")
    log(f"wrote model/{version}/ ({len(onnx_bytes)} bytes of ONNX){' as a candidate' if card['candidate'] else ''}")


if __name__ == "__main__":
    main()
