#!/usr/bin/python3
"""The Python side of the backbone benchmark (mvp-bench, dev.mvp.bench.BackboneBench): one training step of a timm
ViT (tools/fixtures/vit_reference.py's TimmViT, which is timm's VisionTransformer on the attention path timm takes on
torch < 2.0) on Debian's python3-torch, timed and measured like the Java worker.

    /usr/bin/python3 tools/bench/vit_step.py --width 192 --depth 12 --heads 3 --batch 8 --image 224 --threads 2

A step: forward of the whole batch to every token after the final norm, loss = mean of squares, backward, gradients
dropped (set to None). Prints one JSON line: per-step seconds (wall and process CPU), peak resident memory (VmHWM) and the resident memory
after torch was imported (the baseline the model and the step add to), the thread counts, the BLAS library the
process mapped, and torch.__config__.show().
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from vit_reference import TimmViT  # noqa: E402


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cpu_seconds():
    """CPU time of the whole process (all threads, user + system) from /proc/self/stat, as the Java worker reads it."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in USER_HZ = 100


def mapped_libraries(words):
    found = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if any(w in os.path.basename(path).lower() for w in words):
                found.add(os.path.realpath(path))
    return sorted(found)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--depth", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--patch", type=int, default=16)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--image", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    baseline = status_kib("VmRSS")
    model = TimmViT(img_size=a.image, patch_size=a.patch, num_classes=0, embed_dim=a.width, depth=a.depth,
                    num_heads=a.heads).train()
    images = torch.randn(a.batch, 3, a.image, a.image)

    def step():
        tokens = model.forward_features(images)
        tokens.square().mean().backward()
        for q in model.parameters():
            q.grad = None

    for _ in range(a.warmup):
        step()
    times, cpu = [], []
    for _ in range(a.steps):
        start, cpu_start = time.perf_counter(), cpu_seconds()
        step()
        times.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - cpu_start)

    print(json.dumps({
        "impl": "python", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(), "seconds": times, "cpu_seconds": cpu,
        "peak_rss_kib": status_kib("VmHWM"), "baseline_rss_kib": baseline,
        "blas": mapped_libraries(("blas", "mkl")), "config": torch.__config__.show(),
    }))


if __name__ == "__main__":
    main()
