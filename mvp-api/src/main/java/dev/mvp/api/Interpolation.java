package dev.mvp.api;

/** Resampling filter used when a crop is resized to a view (PIL semantics, antialiased when shrinking). */
public enum Interpolation {
    BILINEAR, BICUBIC
}
