"""PyTorch and ONNX side of the interop cross-check (interop/crosscheck.sh).

  torch_check.py compare --safetensors F --dir D [--label TEXT]
      Builds torch_ref.py's ResNet for the architecture in F's metadata, loads
      F with load_state_dict (strict), runs it in eval mode on D/images.f32
      and compares its logits with D/logits.f32 (the Go network's).
  torch_check.py train --dir D --steps N --out F --logits-out L
      Trains torch_ref.py's ResNet for D/meta.json's architecture N steps on
      D/train_images.f32, saves its state_dict to F (safetensors, no
      metadata, as a PyTorch user would) and its eval-mode logits on
      D/images.f32 to L.
  torch_check.py compare-logits A B --dir D [--label TEXT]
      Compares two logit files for D/images.f32.
  torch_check.py check-onnx F
      onnx.checker.check_model(F, full_check=True).

Each comparison prints the largest absolute difference of the logits and how
many predicted classes agree, and exits 1 if the difference is over --tol
(1e-4) or a predicted class differs. Needs Debian's python3-torch,
python3-onnx and python3-numpy; the safetensors files are read and written
with the standard library and numpy (Debian has no safetensors package).
torch_ref.py is found through TORCH_REF (default ../shared/bench/torch_ref.py
from the repository root).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.dont_write_bytecode = True  # torch_ref.py lives in a read-only folder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_REF = os.environ.get("TORCH_REF", os.path.join(ROOT, "..", "shared", "bench", "torch_ref.py"))

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "I8": "i1", "BOOL": "?"}


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    buf = memoryview(b)[8 + n:]
    out = {}
    for name, h in header.items():
        begin, end = h["data_offsets"]
        out[name] = np.frombuffer(buf[begin:end], dtype=DTYPES[h["dtype"]]).reshape(h["shape"]).copy()
    return out, meta


def write_safetensors(path, arrays, meta=None):
    """Writes {name: numpy array} in the safetensors format."""
    names = {np.dtype(v).str: k for k, v in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, a in arrays.items():
        a = np.asarray(a)  # not ascontiguousarray, which makes a scalar 1-dimensional
        a = a.astype(a.dtype.newbyteorder("<"), order="C")
        data = a.tobytes()
        header[name] = {"dtype": names[a.dtype.str], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-(8 + len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))


def torch_ref():
    import importlib.util
    spec = importlib.util.spec_from_file_location("torch_ref", TORCH_REF)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def network(arch, stem, eps, momentum):
    """torch_ref.py's ResNet with the batch norm's epsilon and momentum."""
    import torch.nn as nn
    ref = torch_ref()
    net = ref.ResNet(ref.parse_arch(arch), int(stem))
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps, m.momentum = float(eps), float(momentum)
    return net


def images(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    x = np.fromfile(os.path.join(d, "images.f32"), dtype="<f4").reshape(meta["n"], 3, 32, 32)
    y = np.fromfile(os.path.join(d, "labels.u8"), dtype=np.uint8)
    return x, y, meta


def logits_of(net, x):
    import torch
    net.eval()
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(x[i:i + 250])).numpy() for i in range(0, len(x), 250)])


def report(label, a, b, labels, tol):
    diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    pa, pb = a.argmax(1), b.argmax(1)
    same = int((pa == pb).sum())
    acc = 100.0 * float((pa == labels).mean())
    ok = diff <= tol and same == len(a)
    print(f"{label}: {len(a)} images, max |logit difference| {diff:.3g}, predicted classes identical {same}/{len(a)} "
          f"(accuracy {acc:.2f}%) -> {'ok' if ok else 'FAILED'}", flush=True)
    return ok


def cmd_compare(a):
    import torch
    x, y, _ = images(a.dir)
    st, meta = read_safetensors(a.safetensors)
    for k in ("arch", "stem", "bn_epsilon", "bn_momentum"):
        if k not in meta:
            sys.exit(f"torch_check: {a.safetensors} has no {k} in its metadata")
    net = network(meta["arch"], meta["stem"], meta["bn_epsilon"], meta["bn_momentum"])
    net.load_state_dict({k: torch.from_numpy(v) for k, v in st.items()})  # strict: every key, no other
    go = np.fromfile(os.path.join(a.dir, "logits.f32"), dtype="<f4").reshape(len(x), 10)
    return report(a.label or "PyTorch vs Go", logits_of(net, x), go, y, a.tol)


def cmd_train(a):
    import torch
    import torch.nn.functional as F
    x, y, meta = images(a.dir)
    nt = meta["train"]
    tx = torch.from_numpy(np.fromfile(os.path.join(a.dir, "train_images.f32"), dtype="<f4").reshape(nt, 3, 32, 32))
    ty = torch.from_numpy(np.fromfile(os.path.join(a.dir, "train_labels.u8"), dtype=np.uint8).astype(np.int64))
    torch.manual_seed(a.seed)
    net = network(meta["arch"], meta["stem"], meta["bn_epsilon"], meta["bn_momentum"])
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    net.train()
    perm = torch.randperm(nt)
    losses = []
    for step in range(a.steps):
        idx = perm[(step * a.batch) % nt:][:a.batch]
        opt.zero_grad()
        loss = F.cross_entropy(net(tx[idx]), ty[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    logits = logits_of(net, x)
    acc = 100.0 * float((logits.argmax(1) == y).mean())
    print(f"PyTorch {torch.__version__}: trained torch_ref.ResNet(--arch {meta['arch']} --stem {meta['stem']}) "
          f"{a.steps} steps of {a.batch}: loss {losses[0]:.3f} -> {losses[-1]:.3f}, validation accuracy {acc:.2f}%", flush=True)
    write_safetensors(a.out, {k: v.numpy() for k, v in net.state_dict().items()})
    logits.astype("<f4").tofile(a.logits_out)
    return True


def cmd_compare_logits(a):
    x, y, _ = images(a.dir)
    la = np.fromfile(a.a, dtype="<f4").reshape(len(x), 10)
    lb = np.fromfile(a.b, dtype="<f4").reshape(len(x), 10)
    return report(a.label or "logits", la, lb, y, a.tol)


def cmd_check_onnx(a):
    import onnx
    m = onnx.load(a.model)
    onnx.checker.check_model(m, full_check=True)
    inp, out = m.graph.input[0], m.graph.output[0]
    dims = lambda v: "x".join(d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim)
    print(f"onnx {onnx.__version__}: check_model(full_check=True) passed for {os.path.basename(a.model)}: IR {m.ir_version}, "
          f"opset {m.opset_import[0].version}, {len(m.graph.node)} nodes, {inp.name} {dims(inp)} -> {out.name} {dims(out)}", flush=True)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--safetensors", required=True)
    c.add_argument("--dir", required=True)
    c.add_argument("--label")
    c.add_argument("--tol", type=float, default=1e-4)
    t = sub.add_parser("train")
    t.add_argument("--dir", required=True)
    t.add_argument("--steps", type=int, default=30)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=0.05)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True)
    t.add_argument("--logits-out", required=True)
    l = sub.add_parser("compare-logits")
    l.add_argument("a")
    l.add_argument("b")
    l.add_argument("--dir", required=True)
    l.add_argument("--label")
    l.add_argument("--tol", type=float, default=1e-4)
    o = sub.add_parser("check-onnx")
    o.add_argument("model")
    a = p.parse_args()
    import torch
    torch.set_num_threads(2)
    ok = {"compare": cmd_compare, "train": cmd_train, "compare-logits": cmd_compare_logits, "check-onnx": cmd_check_onnx}[a.cmd](a)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
