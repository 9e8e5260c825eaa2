#!/usr/bin/python3
"""PyTorch twin of bench_models: inference and training-step images/s of the ViT configs in
specs/PERFORMANCE.md, printed as one JSON line per measurement with "side":"pytorch"
(bench/run_model_bench.sh runs both sides interleaved and prints the comparison table).

  (a) ViT-Tiny 28x28x1 patch 4, batch 128   (b) ViT-Tiny 32x32x3 patch 4, batch 128
  (c) DeiT-S 224x224x3 patch 16, batch 32

The model is a plain-torch timm-style VisionTransformer (Conv2d patch embed, cls token, learned
pos_embed, pre-norm blocks with fused qkv -> heads -> softmax(q@k^T*scale)@v -> proj, exact-GELU MLP,
LayerNorm eps 1e-6, final norm, head on cls). Inference: eval() under inference_mode(). Train step:
forward + CrossEntropyLoss(label_smoothing=0.1) + backward + AdamW(lr 1e-4, wd 0.05) step +
zero_grad(set_to_none=True). Method as in bench_models: 2 warm-up steps, then --samples samples of at
least --min-time s each, median. peak_mb: growth of the process's peak RSS (VmHWM, reset through
/proc/self/clear_refs just before warm-up, as bench_models resets its peak before warm-up) over the
RSS at that moment; run one config/mode per process for clean figures (run_model_bench.sh does).

OMP_WAIT_POLICY=passive is REQUIRED: without it Debian's torch spins its OpenMP threads and
oversubscribes the 2 cores (about 2x slower). This script sets it before importing torch if unset.
Use Debian's interpreter: /usr/bin/python3 bench/bench_models_torch.py --config a --mode both
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # must happen before `import torch`
try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("bench_models_torch.py: torch not found; install it with `sudo apt-get install python3-torch` "
             "and run with /usr/bin/python3")

# name: (dim, depth, heads, mlp, image, channels, patch, classes, batch)
CONFIGS = {
    "a": (192, 12, 3, 768, 28, 1, 4, 10, 128),
    "b": (192, 12, 3, 768, 32, 3, 4, 10, 128),
    "c": (384, 12, 6, 1536, 224, 3, 16, 1000, 32),
}


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, dim, depth, heads, mlp, image, channels, patch, classes):
        super().__init__()
        n = (image // patch) ** 2
        self.patch_embed = nn.Conv2d(channels, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def gmacs(dim, depth, heads, mlp, image, channels, patch, classes, batch):
    """fvcore-convention GMACs per image, same formula as nn/flop_count (LayerNorm 5/elem, QK^T+AV)."""
    p = (image // patch) ** 2
    n = p + 1
    block = 2 * 5 * n * dim + 3 * n * dim * dim + 2 * n * n * dim + n * dim * dim + 2 * n * dim * mlp
    return (p * dim * channels * patch * patch + depth * block + 5 * n * dim + dim * classes) / 1e9


def status_kb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def time_it(fn, warmup, samples, min_time):
    """Median seconds per call over `samples` samples of >= min_time each, after warm-up calls."""
    for _ in range(warmup):
        fn()
    per_call = []
    for _ in range(samples):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            t = time.perf_counter()
            if t - t0 >= min_time:
                break
        per_call.append((t - t0) / n)
    return statistics.median(per_call)


def measure(name, mode, fn, batch, gflop, samples, min_time, threads):
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    base_kb = status_kb("VmRSS")
    s = time_it(fn, 2, samples, min_time)
    ips = batch / s
    print(json.dumps({"side": "pytorch", "config": name, "mode": mode, "batch": batch, "img_per_s": round(ips, 2),
                      "gflops_per_s": round(ips * gflop, 1), "peak_mb": round((status_kb("VmHWM") - base_kb) * 1024 / 1e6, 1),
                      "threads": threads}, separators=(",", ":")), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="all", choices=["a", "b", "c", "all"])
    ap.add_argument("--mode", default="both", choices=["infer", "train", "both"])
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=1.5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name in (["a", "b", "c"] if args.config == "all" else [args.config]):
        cfg = CONFIGS[name]
        batch, image, channels, classes = cfg[8], cfg[4], cfg[5], cfg[7]
        model = VisionTransformer(*cfg[:8])
        x = torch.randn(batch, channels, image, image)
        y = torch.arange(batch) % classes
        g = gmacs(*cfg)
        if args.mode != "train":
            model.eval()

            def infer():
                with torch.inference_mode():
                    model(x)

            measure(name, "infer", infer, batch, g * 2, args.samples, args.min_time, torch.get_num_threads())
        if args.mode != "infer":
            model.train()
            loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)

            def train_step():
                loss_fn(model(x), y).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

            measure(name, "train", train_step, batch, g * 2 * 3, args.samples, args.min_time, torch.get_num_threads())


if __name__ == "__main__":
    main()
