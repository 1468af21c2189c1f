package dev.mvp.data;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageFolderTest {

    @Test
    void classFoldersAreLabelledByTheirSortedNames() {
        Path root = TestPaths.sharedData().resolve("cifar10/train");
        ImageFolder folder = ImageFolder.open(root);
        assertThat(folder.size()).isEqualTo(50_000);
        assertThat(folder.classes()).containsExactly("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                "horse", "ship", "truck");
        assertThat(folder.path(0)).isEqualTo(root.toAbsolutePath().resolve("airplane/0000.jpg"));
        assertThat(folder.label(0)).isZero();
        assertThat(folder.path(5000)).isEqualTo(root.toAbsolutePath().resolve("automobile/0000.jpg"));
        assertThat(folder.label(5000)).isEqualTo(1);
        assertThat(folder.path(49_999)).isEqualTo(root.toAbsolutePath().resolve("truck/4999.jpg"));
        assertThat(folder.label(49_999)).isEqualTo(9);
        assertThat(folder.describe()).endsWith("cifar10/train: 50000 images, 10 classes (class folders)");
    }

    @Test
    void theFlatImagenetSampleIsLabelledByWordNetIds() {
        ImageFolder folder = ImageFolder.open(TestPaths.sharedData().resolve("imagenet-sample"));
        assertThat(folder.size()).isEqualTo(1000);
        assertThat(folder.classes()).hasSize(1000).isSorted().startsWith("n01440764", "n01443537");
        assertThat(folder.path(0).getFileName()).hasToString("n01440764_tench.JPEG");
        for (int i = 0; i < folder.size(); i++) {
            String name = folder.path(i).getFileName().toString();
            assertThat(folder.classes().get(folder.label(i))).isEqualTo(name.substring(0, name.indexOf('_')));
        }
        assertThat(folder.describe()).contains("1000 images, 1000 classes (flat, labels from file-name prefixes)");
    }

    /** The order of torchvision's make_dataset: sorted(os.walk(class folder)), then sorted file names. */
    @Test
    void nestedClassFoldersAreOrderedLikeTorchvision(@TempDir Path root) throws IOException {
        for (String f : List.of("cls/b.jpg", "cls/sub/a.PNG", "cls/sub-x/c.jpeg", "cls/sub/deeper/d.jpg", "cls/Z.jpg",
                "cls/notes.txt", "other/x.Jpg", "stray.jpg")) {
            Files.createDirectories(root.resolve(f).getParent());
            Files.writeString(root.resolve(f), "x");
        }
        ImageFolder folder = ImageFolder.open(root);
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < folder.size(); i++) paths.add(root.relativize(folder.path(i)) + " " + folder.label(i));
        // as printed by torchvision 0.14 make_dataset for the same tree
        assertThat(paths).containsExactly("cls/Z.jpg 0", "cls/b.jpg 0", "cls/sub/a.PNG 0", "cls/sub-x/c.jpeg 0",
                "cls/sub/deeper/d.jpg 0", "other/x.Jpg 1");
        assertThat(folder.classes()).containsExactly("cls", "other");
    }

    @Test
    void aFlatFolderWithoutPrefixesOnEveryNameIsUnlabelled(@TempDir Path root) throws IOException {
        for (String f : List.of("b_cat.png", "a.jpg", "_c.jpeg", "readme.md")) Files.writeString(root.resolve(f), "x");
        ImageFolder folder = ImageFolder.open(root);
        assertThat(folder.size()).isEqualTo(3);
        assertThat(folder.path(0).getFileName()).hasToString("_c.jpeg");
        assertThat(folder.label(0)).isEqualTo(-1);
        assertThat(folder.label(2)).isEqualTo(-1);
        assertThat(folder.classes()).isEmpty();
        assertThat(folder.describe()).contains("3 images, 0 classes (flat, unlabelled)");
    }

    @Test
    void missingEmptyOrWrongFoldersFailWithOneLineNamingThePath(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> ImageFolder.open(missing)).isInstanceOf(DataException.class)
                .hasMessage("image folder not found: " + missing);
        Path file = Files.writeString(dir.resolve("file.jpg"), "x");
        assertThatThrownBy(() -> ImageFolder.open(file)).isInstanceOf(DataException.class)
                .hasMessage("not a folder: " + file);
        Path empty = Files.createDirectory(dir.resolve("empty"));
        Files.writeString(empty.resolve("notes.txt"), "no images here");
        assertThatThrownBy(() -> ImageFolder.open(empty)).isInstanceOf(DataException.class)
                .hasMessage("no images (.jpg, .jpeg, .png) in " + empty + " and no class sub-folders");
        Path tree = Files.createDirectory(dir.resolve("tree"));
        Files.createDirectories(tree.resolve("dog"));
        Files.createDirectories(tree.resolve("cat"));
        Files.writeString(tree.resolve("cat/1.jpg"), "x");
        assertThatThrownBy(() -> ImageFolder.open(tree)).isInstanceOf(DataException.class)
                .hasMessage("no images (.jpg, .jpeg, .png) in class folder dog of " + tree);
    }
}
