"""PyTorch's kernels in a training step of the reference network.

    python3 graph/cuda/torchprofile.py TORCH_REF --arch 16x2/1,32x2/2 [--batch 512] [--steps 10] [--device cuda]

TORCH_REF is the path of torch_ref.py (../shared/bench/torch_ref.py), whose
network and optimizer step this times exactly as its bench mode runs them:
three warm-up steps, then --steps steps under torch.profiler. It prints the
device time per step of every kernel (or, with --device cpu, the self
time of every operator), largest first, then their number and sum per step and the
wall time of a step under the profiler, one "key value" line each:

    torch_kernel_launches_per_step 95
    torch_kernel_ms_per_step 1.234
    torch_wall_ms_per_step 2.345

gpucheck.sh runs it beside bench -device cuda -profile, which prints the same
for this program's kernels, so that the two can be compared kernel by kernel
and a step's device time told from its launch overhead.
"""
import argparse
import importlib.util
import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile


def load(path):
    spec = importlib.util.spec_from_file_location("torch_ref", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def self_time(e, device):
    """Returns the self time of event e on the device, in microseconds,
    under the attribute name of this version of PyTorch."""
    names = ("self_device_time_total", "self_cuda_time_total") if device == "cuda" else ("self_cpu_time_total",)
    for n in names:
        v = getattr(e, n, None)
        if v is not None:
            return v
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("--arch", required=True)
    p.add_argument("--stem", type=int, default=None)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    a = p.parse_args()
    ref = load(a.ref)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    m = ref.ResNet(ref.parse_arch(a.arch), a.stem).to(dev)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    m.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    ref.sync(dev)
    activity = ProfilerActivity.CUDA if a.device == "cuda" else ProfilerActivity.CPU
    with profile(activities=[activity]) as prof:
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        ref.sync(dev)
        wall = (time.perf_counter() - t) / a.steps
    rows = [(self_time(e, a.device) / a.steps, e.count // a.steps, e.key) for e in prof.key_averages()]
    rows = sorted((r for r in rows if r[0] > 0), reverse=True)
    total = sum(r[0] for r in rows)
    print(f"torch {torch.__version__} {a.device} arch={a.arch} batch={a.batch} steps={a.steps}")
    for us, n, name in rows:
        print(f"kernel {name[:100]:100s} {n:4d} launches {us / 1000:8.3f} ms per training step {100 * us / total:5.1f} %")
    print(f"torch_kernel_launches_per_step {sum(r[1] for r in rows)}")
    print(f"torch_kernel_ms_per_step {total / 1000:.3f}")
    print(f"torch_wall_ms_per_step {wall * 1000:.3f}")


if __name__ == "__main__":
    main()
