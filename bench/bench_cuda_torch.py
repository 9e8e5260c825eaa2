#!/usr/bin/env python3
"""PyTorch twin of bench_cuda_train: DeiT-S (timm) inference and training-step images/s on the GPU,
eager mode, f32 (TF32 off unless --tf32), AdamW, cross-entropy with label smoothing 0.1, batch on
the GPU. Medians of timed samples after warm-up, each sample ended by torch.cuda.synchronize().
Prints one JSON line per measurement (the same fields as bench_cuda_train)."""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--gflop-fwd", type=float, default=2 * 4.608, help="forward GFLOP per image (2 x fvcore GMACs)")
    ap.add_argument("--peak-fp32", type=float, default=67.0)
    ap.add_argument("--peak-tf32", type=float, default=495.0)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    import timm
    model = timm.create_model("deit_small_patch16_224", pretrained=False, num_classes=1000).cuda()
    x = torch.randn(a.batch, 3, 224, 224, device="cuda")
    y = torch.arange(a.batch, device="cuda") % 1000
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    def measure(fn):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        per = []
        for _ in range(a.samples):
            t0 = time.perf_counter()
            for _ in range(a.steps):
                fn()
            torch.cuda.synchronize()
            per.append((time.perf_counter() - t0) / a.steps)
        return statistics.median(per)

    def report(mode, sec, mult):
        ips = a.batch / sec
        tflops = ips * a.gflop_fwd * mult / 1e3
        print(json.dumps({"side": "pytorch" + ("-tf32" if a.tf32 else ""), "model": "deit_small_patch16_224",
                          "mode": mode, "batch": a.batch, "img_per_s": round(ips, 1), "tflops": round(tflops, 2),
                          "pct_fp32_peak": round(100 * tflops / a.peak_fp32, 1),
                          "pct_tf32_peak": round(100 * tflops / a.peak_tf32, 1),
                          "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 1e6)}), flush=True)

    model.eval()
    with torch.no_grad():
        report("infer", measure(lambda: model(x)), 1.0)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    report("train", measure(step), 3.0)


if __name__ == "__main__":
    main()
