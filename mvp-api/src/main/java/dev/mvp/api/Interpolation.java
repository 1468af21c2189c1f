package dev.mvp.api;

/**
 * Resampling filter used when a crop is resized to a view (PIL semantics, antialiased when shrinking): PIL's
 * {@code BILINEAR} (triangle, radius 1), {@code BICUBIC} (Keys' cubic, a = -0.5, radius 2) and {@code LANCZOS}
 * (Lanczos windowed sinc, a = 3, radius 3; BEiT's {@code --second_interpolation lanczos} for the d-VAE's view).
 */
public enum Interpolation {
    BILINEAR, BICUBIC, LANCZOS
}
