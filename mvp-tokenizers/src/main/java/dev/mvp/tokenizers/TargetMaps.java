package dev.mvp.tokenizers;

import dev.mvp.api.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.function.Supplier;

/** Input checks and scope handling shared by the non-learned tokenizers (pixels, HOG). */
final class TargetMaps {
    private TargetMaps() {}

    /** Checks a floating [B, 3, size, size] batch; the message names the tokenizer and the shape it got. */
    static void checkImages(String tokenizer, Tensor images, int size) {
        long[] s = Tensors.shape(images);
        if (!images.is_floating_point() || s.length != 4 || s[1] != 3 || s[2] != size || s[3] != size) {
            throw new IllegalArgumentException(tokenizer + ": images must be floating [B, 3, " + size + ", " + size
                    + "], got " + Tensors.shapeString(images) + " " + images.scalar_type());
        }
    }

    /**
     * Runs {@code body} without autograd in its own {@link PointerScope}, so that its temporaries are freed on
     * return, and hands the result to the caller's scope (without a caller scope the body runs as is).
     */
    static Tensor scoped(Supplier<Tensor> body) {
        try (NoGradGuard noGrad = new NoGradGuard()) {
            PointerScope outer = PointerScope.getInnerScope();
            if (outer == null) return body.get();
            try (PointerScope inner = new PointerScope()) {
                Tensor out = body.get();
                outer.attach(out);
                inner.detach(out);
                return out;
            }
        }
    }
}
