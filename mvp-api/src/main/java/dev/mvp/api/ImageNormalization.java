package dev.mvp.api;

import org.bytedeco.pytorch.Tensor;

/**
 * How a model wants its pixels: a map from an RGB image in [0, 1] to the model's input values.
 * Applied per channel to a [B, 3, H, W] float tensor.
 */
public sealed interface ImageNormalization {

    /** ImageNet statistics (timm's IMAGENET_DEFAULT_MEAN/STD), used by BEiT/MVP students and by DINO. */
    MeanStd IMAGENET = new MeanStd(new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});

    /** OpenAI CLIP's statistics (OPENAI_CLIP_MEAN/STD), used by the CLIP teacher. */
    MeanStd CLIP = new MeanStd(new float[] {0.48145466f, 0.4578275f, 0.40821073f},
            new float[] {0.26862954f, 0.26130258f, 0.27577711f});

    /** DALL-E d-VAE's input map {@code 0.8 x + 0.1} (BEiT's {@code map_pixels}, logit-Laplace eps 0.1). */
    Affine DALLE = new Affine(0.8f, 0.1f);

    /** Identity on [0, 1] (pixel targets, for instance). */
    Affine UNIT = new Affine(1f, 0f);

    /** Returns {@code (x - mean) / std} or {@code scale * x + offset} for x in [0, 1]: a new tensor. */
    Tensor apply(Tensor images01);

    /** The per-channel map as {@code value = a[c] * x + b[c]}, for fused CPU code paths. */
    float[] scale();

    /** See {@link #scale()}. */
    float[] offset();

    /** Per-channel {@code (x - mean) / std}. */
    record MeanStd(float[] mean, float[] std) implements ImageNormalization {
        public MeanStd {
            if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 channels");
            for (float s : std) if (!(s > 0)) throw new IllegalArgumentException("std must be positive");
            mean = mean.clone();
            std = std.clone();
        }

        @Override public Tensor apply(Tensor x) {
            Tensor m = Tensors.ofFloats(mean, 1, 3, 1, 1).to(x.device(), x.scalar_type());
            Tensor s = Tensors.ofFloats(std, 1, 3, 1, 1).to(x.device(), x.scalar_type());
            return x.sub(m).div(s);
        }

        @Override public float[] scale() {
            return new float[] {1 / std[0], 1 / std[1], 1 / std[2]};
        }

        @Override public float[] offset() {
            return new float[] {-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]};
        }

        @Override public boolean equals(Object o) {
            return o instanceof MeanStd m && java.util.Arrays.equals(mean, m.mean) && java.util.Arrays.equals(std, m.std);
        }

        @Override public int hashCode() {
            return 31 * java.util.Arrays.hashCode(mean) + java.util.Arrays.hashCode(std);
        }

        @Override public String toString() {
            return "MeanStd(mean=" + java.util.Arrays.toString(mean) + ", std=" + java.util.Arrays.toString(std) + ")";
        }
    }

    /** {@code scale * x + offset}, the same for every channel. */
    record Affine(float a, float b) implements ImageNormalization {
        @Override public Tensor apply(Tensor x) {
            return x.mul(Tensors.scalar(a)).add(Tensors.scalar(b));
        }

        @Override public float[] scale() {
            return new float[] {a, a, a};
        }

        @Override public float[] offset() {
            return new float[] {b, b, b};
        }
    }
}
