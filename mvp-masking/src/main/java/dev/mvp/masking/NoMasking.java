package dev.mvp.masking;

import dev.mvp.api.MaskingStrategy;

import java.util.random.RandomGenerator;

/** Masks nothing (for evaluation, or for teachers that see the whole image). Draws nothing from the generator. */
public record NoMasking() implements MaskingStrategy {

    @Override public String name() {
        return "none";
    }

    @Override public boolean[] sample(int rows, int cols, RandomGenerator rng) {
        return new boolean[Masks.patches(rows, cols)];
    }
}
