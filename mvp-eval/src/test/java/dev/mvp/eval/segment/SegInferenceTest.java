package dev.mvp.eval.segment;

import dev.mvp.api.ImageNormalization;
import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.data.OpenCvResize;
import dev.mvp.data.RgbImage;
import dev.mvp.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/** mmseg's sliding-window inference: window grid, averaging, and agreement with a whole pass for pointwise models. */
class SegInferenceTest {

    @Test
    void windowGridIsMmsegs() {
        // 683 x 512 at crop 512, stride 341 (ADE20K's config): one row, two columns, the last one moved back to fit
        List<int[]> w = SegInference.windows(512, 683, 512, 341);
        assertThat(w).hasSize(2);
        assertThat(w.get(0)).containsExactly(0, 0);
        assertThat(w.get(1)).containsExactly(0, 171);
        // 1024 x 2048: (1024-512+340)/341+1 = 3 rows, (2048-512+340)/341+1 = 6 columns
        assertThat(SegInference.windows(1024, 2048, 512, 341)).hasSize(18);
        assertThat(SegInference.testSize(683, 512, 512)).containsExactly(683, 512);
        assertThat(SegInference.testSize(4000, 1000, 512)).containsExactly(2048, 512);   // the long side caps at 4S
    }

    @Test
    void slidingWindowsOfAPointwiseModelEqualOneWholePass() {
        Torch.init();
        SplittableRandom rng = new SplittableRandom(4);
        byte[] px = new byte[3 * 50 * 37];
        for (int i = 0; i < px.length; i++) px[i] = (byte) rng.nextInt(256);
        RgbImage image = new RgbImage(50, 37, px);                  // not a multiple of anything: windows overlap unevenly
        // a "model" whose logits at a pixel depend only on that pixel: 4 classes from the 3 channels
        Function<Tensor, Tensor> pointwise = x -> torch.cat(new TensorVector(x.narrow(1, 0, 1), x.narrow(1, 1, 1).mul(new Scalar(2)),
                x.narrow(1, 2, 1).neg(), x.narrow(1, 0, 1).add(x.narrow(1, 2, 1))), 1);
        try (PointerScope scope = new PointerScope()) {
            int s = 16;                                               // testSize(50, 37, 16): 22 x 16 -> two windows
            Tensor slide = SegInference.logits(pointwise, image, s, SegInference.Mode.SLIDE, 5, 3, ImageNormalization.IMAGENET);
            int[] size = SegInference.testSize(50, 37, s);
            RgbImage resized = OpenCvResize.linear(image, size[0], size[1]);
            Tensor whole = torch.upsample_bilinear2d(pointwise.apply(SegInference.planar(resized, ImageNormalization.IMAGENET)),
                    new long[] {37, 50}, false);
            assertThat(Tensors.shape(slide)).containsExactly(1, 4, 37, 50);
            TensorAssert.assertClose(slide, whole, 1e-5);
            int[] pred = SegInference.predict(pointwise, image, s, SegInference.Mode.SLIDE, 5, 3, ImageNormalization.IMAGENET);
            assertThat(pred).hasSize(37 * 50);
            assertThat(pred).isEqualTo(SegInference.toInts(whole.argmax(new org.bytedeco.pytorch.LongOptional(1), false).reshape(new long[] {-1})));
        }
    }
}
