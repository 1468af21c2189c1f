package dev.mvp.api;

/**
 * What a model wants to see of a crop: a square {@code size x size} RGB image, resampled with
 * {@code interpolation} and mapped by {@code normalization}. The data pipeline makes every view of a sample from
 * the same crop, so a student's view and a teacher's view always show the same region.
 */
public record ViewSpec(int size, Interpolation interpolation, ImageNormalization normalization) {
    public ViewSpec {
        if (size < 1) throw new IllegalArgumentException("view size must be positive, got " + size);
        java.util.Objects.requireNonNull(interpolation, "interpolation");
        java.util.Objects.requireNonNull(normalization, "normalization");
    }
}
