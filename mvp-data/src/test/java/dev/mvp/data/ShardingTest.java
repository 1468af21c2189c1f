package dev.mvp.data;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ShardingTest {

    /** The union of the static shards is the dataset, the shards do not overlap, and each keeps labels. */
    @Test
    void staticShardsPartitionTheDataset() {
        ImageFolder all = ImageFolder.open(TestPaths.sharedData().resolve("imagenet-sample"));
        for (int world : new int[] {1, 2, 3, 7}) {
            Set<Path> seen = new HashSet<>();
            int total = 0;
            for (int rank = 0; rank < world; rank++) {
                ImageDataset shard = all.shard(rank, world);
                assertThat(shard.size()).isBetween(all.size() / world, all.size() / world + 1);
                for (int i = 0; i < shard.size(); i++) {
                    assertThat(seen.add(shard.path(i))).as("%s appears in one shard only", shard.path(i)).isTrue();
                    assertThat(shard.classes().get(shard.label(i))).isEqualTo(
                            shard.path(i).getFileName().toString().substring(0, 9));
                }
                total += shard.size();
            }
            assertThat(total).isEqualTo(all.size());
            assertThat(seen).hasSize(all.size());
        }
        assertThat(all.shard(2, 3).describe()).endsWith(", shard 2 of 3: 333 images");
        assertThat(all.shard(0, 3).size()).isEqualTo(334);
        assertThatThrownBy(() -> all.shard(3, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shard needs 0 <= rank < worldSize, got rank 3 of 3");
    }

    /**
     * Per epoch, the ranks' orders are disjoint, cover all but {@code n % world} indices, and change from epoch to
     * epoch (so each rank sees other images); with one rank the order is the whole permutation.
     */
    @Test
    void epochOrdersDealTheWholeDatasetOutAfreshEachEpoch() {
        int n = 103;
        for (int world : new int[] {1, 2, 4}) {
            List<Set<Integer>> firstEpoch = new ArrayList<>();
            for (int epoch = 0; epoch < 3; epoch++) {
                Set<Integer> union = new HashSet<>();
                for (int rank = 0; rank < world; rank++) {
                    int[] order = BatchLoader.epochOrder(n, 42, epoch, rank, world);
                    assertThat(order).hasSize(n / world);
                    for (int i : order) assertThat(union.add(i)).as("index %d dealt twice in epoch %d", i, epoch).isTrue();
                    Set<Integer> mine = new HashSet<>();
                    for (int i : order) mine.add(i);
                    if (epoch == 0) firstEpoch.add(mine);
                    else if (world > 1) assertThat(mine).as("rank %d's share changes between epochs", rank).isNotEqualTo(firstEpoch.get(rank));
                }
                assertThat(union).hasSize(n - n % world).allMatch(i -> i >= 0 && i < n);
            }
        }
        assertThat(BatchLoader.epochOrder(n, 42, 5, 0, 1)).isEqualTo(Shuffle.permutation(n, BatchLoader.orderSeed(42, 5)));
        int[] whole = Shuffle.permutation(n, BatchLoader.orderSeed(42, 1));
        int[] rank1 = BatchLoader.epochOrder(n, 42, 1, 1, 4);
        for (int i = 0; i < rank1.length; i++) assertThat(rank1[i]).isEqualTo(whole[4 * i + 1]);
    }
}
