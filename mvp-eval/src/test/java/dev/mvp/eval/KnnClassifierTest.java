package dev.mvp.eval;

import dev.mvp.api.Tensors;
import dev.mvp.api.Torch;
import dev.mvp.models.io.SafeTensorsFile;
import dev.mvp.testing.TestPaths;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** DINO's weighted k-NN against the transcription of eval_knn.py in tools/fixtures/make_eval_fixtures.py. */
class KnnClassifierTest {

    static FeatureSet load(SafeTensorsFile f, String which) {
        float[] x;
        long[] y;
        long rows, dim;
        try (PointerScope scope = new PointerScope()) {
            var t = f.tensor(which + "_features");
            rows = t.size(0);
            dim = t.size(1);
            x = Tensors.toFloats(t);
            y = Tensors.toLongs(f.tensor(which + "_labels"));
        }
        int[] labels = new int[y.length];
        for (int i = 0; i < y.length; i++) labels[i] = (int) y[i];
        return FeatureSet.of(x, (int) rows, (int) dim, labels, List.of("a", "b", "c", "d", "e", "f"));
    }

    @Test
    void predictionsAndAccuraciesEqualDinosReference() {
        Torch.init();
        try (SafeTensorsFile f = SafeTensorsFile.open(TestPaths.fixture("eval/knn.safetensors"));
             FeatureSet train = load(f, "train"); FeatureSet test = load(f, "test")) {
            List<KnnClassifier.Result> results = KnnClassifier.evaluate(train, test, new int[] {5, 20}, 0.07, 6);
            for (KnnClassifier.Result r : results) {
                long[] ranked;
                double top1, top5;
                try (PointerScope scope = new PointerScope()) {
                    ranked = Tensors.toLongs(f.tensor("ranked_k" + r.k()));
                    top1 = f.tensor("top1_k" + r.k()).item_double();
                    top5 = f.tensor("top5_k" + r.k()).item_double();
                }
                int mismatches = 0;
                for (int i = 0; i < test.size(); i++) {
                    for (int j = 0; j < 5; j++) {
                        if (r.top5()[i][j] != ranked[i * 6 + j]) mismatches++;
                    }
                    assertThat(r.predictions()[i]).as("prediction of test image %d, k %d", i, r.k()).isEqualTo((int) ranked[i * 6]);
                }
                assertThat(mismatches).as("ranked classes differing from the reference, k %d", r.k()).isZero();
                assertThat(r.top1()).as("top-1, k %d", r.k()).isEqualTo(top1);
                assertThat(r.top5Acc()).as("top-5, k %d", r.k()).isEqualTo(top5);
            }
            // the fixture is not trivial: some predictions are wrong, and k changes some of them
            assertThat(results.get(0).top1()).isBetween(50.0, 90.0);
            assertThat(results.get(0).predictions()).isNotEqualTo(results.get(1).predictions());
        }
    }

    @Test
    void aSingleNeighbourIsTheNearestByCosineNotByDistance() {
        Torch.init();
        // train: class 0 at direction (1, 0) far away, class 1 at direction (0.6, 0.8) nearby; the query (1, 0.1) is
        // closer in L2 to the class-1 point but closer in angle to the class-0 one
        try (FeatureSet train = FeatureSet.of(new float[] {10, 0, 0.6f, 0.8f}, 2, 2, new int[] {0, 1}, List.of("x", "y"));
             FeatureSet test = FeatureSet.of(new float[] {1, 0.1f}, 1, 2, new int[] {0}, List.of("x", "y"))) {
            KnnClassifier.Result r = KnnClassifier.evaluate(train, test, 1, 0.07);
            assertThat(r.predictions()).containsExactly(0);
            assertThat(r.top1()).isEqualTo(100.0);
            // k = 2: votes exp(cos/T) favour the more similar neighbour
            assertThat(KnnClassifier.evaluate(train, test, 2, 0.07).predictions()).containsExactly(0);
        }
    }

    @Test
    void tiesRankByClassIndexAndBadInputsAreNamed() {
        assertThat(KnnClassifier.rank(new float[] {0, 2, 0, 2, 1}, 0, 5)).containsExactly(1, 3, 4, 0, 2);
        Torch.init();
        try (FeatureSet train = FeatureSet.of(new float[] {1, 0, 0, 1}, 2, 2, new int[] {0, 1}, List.of("x", "y"));
             FeatureSet test = FeatureSet.of(new float[] {1, 0}, 1, 2, new int[] {-1}, List.of("x", "y"));
             FeatureSet wide = FeatureSet.of(new float[] {1, 0, 0}, 1, 3, new int[] {0}, List.of("x", "y"))) {
            assertThatThrownBy(() -> KnnClassifier.evaluate(train, test, 1, 0.07)).hasMessageContaining("test image 0 has label -1");
            assertThatThrownBy(() -> KnnClassifier.evaluate(train, wide, 1, 0.07)).hasMessageContaining("dimension 2");
            try (FeatureSet ok = FeatureSet.of(new float[] {1, 0}, 1, 2, new int[] {0}, List.of("x", "y"))) {
                assertThatThrownBy(() -> KnnClassifier.evaluate(train, ok, 3, 0.07)).hasMessageContaining("k = 3");
            }
        }
    }
}
