#!/usr/bin/python3
"""PIL's decode of every image of a folder, the reference of the decoder comparison (mvp-bench DecoderBench).

    /usr/bin/python3 tools/bench/pil_decode.py <image folder> <output folder> [--threads 1]

Writes <output>/<name>.rgb (raw interleaved 8-bit RGB of Image.open(f).convert('RGB'), as torchvision's loader;
no EXIF transpose) and <output>/index.tsv (name, width, height, mode), then prints PIL's decode speed in images/s (wall
clock) and images per CPU-second (per core): one process over every image (files read from memory, after a warm-up
pass; best of 3), and the same split over N processes.
"""
import io
import os
import sys
import time
from multiprocessing import Pool

from PIL import Image


def decode(data):
    img = Image.open(io.BytesIO(data))
    mode = img.mode
    return img.convert("RGB"), mode


def timed(blobs):
    t0 = time.perf_counter()
    c0 = time.process_time()
    for b in blobs:
        decode(b)
    return time.perf_counter() - t0, time.process_time() - c0


def main():
    src, out = sys.argv[1], sys.argv[2]
    procs = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    names = sorted(os.listdir(src))
    blobs = []
    for n in names:
        with open(os.path.join(src, n), "rb") as f:
            blobs.append(f.read())
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "index.tsv"), "w") as index:
        for n, b in zip(names, blobs):
            img, mode = decode(b)
            with open(os.path.join(out, n + ".rgb"), "wb") as f:
                f.write(img.tobytes())
            index.write("%s\t%d\t%d\t%s\n" % (n, img.size[0], img.size[1], mode))
    wall, cpu = min(timed(blobs) for _ in range(3))
    print("PIL %s decode, 1 process: %.1f images/s, %.1f images per CPU-second" % (Image.__version__, len(blobs) / wall,
                                                                               len(blobs) / cpu))
    if procs > 1:
        parts = [blobs[i::procs] for i in range(procs)]
        with Pool(procs) as pool:
            pool.map(timed, parts)  # warm-up
            t0 = time.perf_counter()
            cpu = sum(c for _, c in pool.map(timed, parts))
            many = time.perf_counter() - t0
        print("PIL %s decode, %d processes: %.1f images/s, %.1f images per CPU-second"
              % (Image.__version__, procs, len(blobs) / many, len(blobs) / cpu))


if __name__ == "__main__":
    main()
