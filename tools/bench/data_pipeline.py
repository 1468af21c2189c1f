#!/usr/bin/python3
"""The pre-training input pipeline in Python, the reference of mvp-bench LoaderBench: torchvision's ImageFolder
loader (PIL open + convert('RGB')), RandomResizedCrop(224, bicubic), RandomHorizontalFlip, ToTensor, Normalize
(ImageNet), batched by torch's DataLoader, on Debian's python3-torch / python3-torchvision.

    /usr/bin/python3 tools/bench/data_pipeline.py <image folder> [--workers 0,2] [--batch 64] [--epochs 3] [--views 1]

--views 2 makes MVP's two views from one crop (BEiT's RandomResizedCropAndInterpolationWithTwoPic): the student's
224 bicubic ImageNet-normalised and the CLIP teacher's 224 bicubic CLIP-normalised.
workers 0: the main process does everything (one core); workers N: N loader processes (the main one waits).
Prints images/s over all epochs after a warm-up epoch (wall clock), images per CPU-second (the CPU time of the main
process and its loader processes, from /proc: the per-core figure, robust when other work shares the machine), and
the mean wait for a batch.
"""
import os
import sys
import time

import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])


class Folder(Dataset):
    def __init__(self, root, views):
        self.files = [os.path.join(root, n) for n in sorted(os.listdir(root))]
        self.views = views
        self.crop = T.RandomResizedCrop(224, interpolation=T.InterpolationMode.BICUBIC)
        self.one = T.Compose([self.crop, T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(*IMAGENET)])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with open(self.files[i], "rb") as f:
            img = Image.open(f).convert("RGB")
        if self.views == 1:
            return self.one(img)
        top, left, h, w = self.crop.get_params(img, self.crop.scale, self.crop.ratio)
        flip = torch.rand(1) < 0.5
        out = []
        for mean_std in (IMAGENET, CLIP):
            v = F.resized_crop(img, top, left, h, w, [224, 224], T.InterpolationMode.BICUBIC)
            if flip:
                v = F.hflip(v)
            out.append(F.normalize(F.to_tensor(v), *mean_std))
        return tuple(out)


def cpu_seconds(pids):
    """utime + stime of the given processes, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    root = sys.argv[1]
    batch = int(arg("--batch", "64"))
    epochs = int(arg("--epochs", "3"))
    views = int(arg("--views", "1"))
    torch.set_num_threads(1)
    data = Folder(root, views)
    for workers in [int(w) for w in arg("--workers", "0,2").split(",")]:
        loader = DataLoader(data, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                            persistent_workers=workers > 0)
        for _ in loader:  # warm-up epoch (starts the workers, fills the page cache)
            pass
        pids = [os.getpid()] + ([w.pid for w in loader._iterator._workers] if workers > 0 else [])
        waits, images = [], 0
        c0 = cpu_seconds(pids)
        t0 = time.perf_counter()
        for _ in range(epochs):
            it = iter(loader)
            while True:
                w0 = time.perf_counter()
                try:
                    b = next(it)
                except StopIteration:
                    break
                waits.append(time.perf_counter() - w0)
                images += (b[0] if views > 1 else b).shape[0]
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(pids) - c0
        print("python torchvision %s, %d view(s), %d worker process(es): %.1f images/s, %.1f images per CPU-second, "
              "mean wait for a batch of %d: %.3f s"
              % (__import__("torchvision").__version__, views, workers, images / seconds, images / cpu, batch,
                 sum(waits) / len(waits)))
        del loader


if __name__ == "__main__":
    main()
