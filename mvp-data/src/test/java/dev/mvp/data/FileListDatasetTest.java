package dev.mvp.data;

import dev.mvp.testing.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FileListDatasetTest {

    @Test
    void integerLabelsAreClassIndicesAndOrderIsTheLists(@TempDir Path dir) throws IOException {
        Path images = TestPaths.sharedData().resolve("imagenet-sample");
        Path list = Files.writeString(dir.resolve("train.txt"), """
                # Caffe-style list: path and class index
                n01443537_goldfish.JPEG 1
                n01440764_tench.JPEG 0

                n01484850_great_white_shark.JPEG\t2
                """);
        FileListDataset data = FileListDataset.open(list, images);
        assertThat(data.size()).isEqualTo(3);
        assertThat(data.path(0)).isEqualTo(images.toAbsolutePath().normalize().resolve("n01443537_goldfish.JPEG"));
        assertThat(data.label(0)).isEqualTo(1);
        assertThat(data.label(1)).isZero();
        assertThat(data.path(2).getFileName()).hasToString("n01484850_great_white_shark.JPEG");
        assertThat(data.label(2)).isEqualTo(2);
        assertThat(data.classes()).containsExactly("0", "1", "2");
        assertThat(data.describe()).endsWith("train.txt: 3 images, 3 classes");
    }

    @Test
    void nameLabelsAreSortedIntoClassesAndPathsResolveAgainstTheListsFolder(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("img dir"));
        for (String f : new String[] {"a.jpg", "img dir/b c.png", "d.jpg"}) Files.writeString(dir.resolve(f), "x");
        Path list = Files.writeString(dir.resolve("list.tsv"), "a.jpg\tzebra\nimg dir/b c.png\tant\n" + dir.resolve("d.jpg") + " zebra\n");
        FileListDataset data = FileListDataset.open(list);
        assertThat(data.classes()).containsExactly("ant", "zebra");
        assertThat(data.label(0)).isEqualTo(1);
        assertThat(data.path(1)).isEqualTo(dir.resolve("img dir/b c.png"));
        assertThat(data.label(1)).isZero();
        assertThat(data.path(2)).isEqualTo(dir.resolve("d.jpg"));
    }

    @Test
    void anUnlabelledListHasNoClasses(@TempDir Path dir) throws IOException {
        for (String f : new String[] {"x.jpg", "y.jpg", "with space.jpg"}) Files.writeString(dir.resolve(f), "x");
        Path list = Files.writeString(dir.resolve("list.txt"), "x.jpg\ny.jpg\nwith space.jpg\t\n");
        FileListDataset data = FileListDataset.open(list);
        assertThat(data.size()).isEqualTo(3);
        assertThat(data.label(2)).isEqualTo(-1);
        assertThat(data.path(2).getFileName()).hasToString("with space.jpg");
        assertThat(data.classes()).isEmpty();
        assertThat(data.describe()).endsWith("3 images, 0 classes (unlabelled)");
    }

    @Test
    void badListsFailWithOneLineNamingTheFile(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("missing.txt");
        assertThatThrownBy(() -> FileListDataset.open(missing)).isInstanceOf(DataException.class)
                .hasMessage("file list not found: " + missing);
        Path empty = Files.writeString(dir.resolve("empty.txt"), "# nothing\n\n");
        assertThatThrownBy(() -> FileListDataset.open(empty)).isInstanceOf(DataException.class)
                .hasMessage("no images listed in " + empty);
        Files.writeString(dir.resolve("a.jpg"), "x");
        Path mixed = Files.writeString(dir.resolve("mixed.txt"), "a.jpg 3\nb.jpg\n");
        assertThatThrownBy(() -> FileListDataset.open(mixed)).isInstanceOf(DataException.class)
                .hasMessage(mixed + " line 2: has no label but line 1 has one; label every line or none");
        Path wrongRoot = Files.writeString(dir.resolve("rooted.txt"), "a.jpg\n");
        Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
        assertThatThrownBy(() -> FileListDataset.open(wrongRoot, elsewhere)).isInstanceOf(DataException.class)
                .hasMessage("the first image listed in " + wrongRoot + " does not exist: " + elsewhere.resolve("a.jpg")
                        + " (relative paths resolve against " + elsewhere + ")");
        assertThatThrownBy(() -> FileListDataset.open(wrongRoot, dir.resolve("nope"))).isInstanceOf(DataException.class)
                .hasMessage("root folder of file list " + wrongRoot + " not found: " + dir.resolve("nope"));
        assertThatThrownBy(() -> FileListDataset.open(dir)).isInstanceOf(DataException.class)
                .hasMessage("file list is not a file: " + dir);
    }

    /** Each malformed line is one error naming the list and the line, never a silently wrong path or label. */
    @Test
    void malformedLinesAreErrorsNamingTheListAndTheLine(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("0000.jpg"), "x");
        String[][] cases = {
                // line 2's content, the expected message after "<list> line 2: "
                {"0000.jpg 1 extra junk", "4 fields separated by spaces in \"0000.jpg 1 extra junk\"; expected 'path' or "
                        + "'path label' (a path with spaces needs a tab before its label: 'path<TAB>label', or 'path<TAB>' without one)"},
                {"0000.jpg\t1\textra", "more than one tab in \"0000.jpg\t1\textra\"; expected 'path<TAB>label' (a path cannot contain a tab)"},
                {"0000.jpg\t1 2", "label '1 2' contains a space"},
                {"0000.jpg notanumber", "label 'notanumber' is a class name but line 1's label '0' is a class index; "
                        + "give indices on every line or names on every line"},
                {"0000.jpg -5", "class index -5 is negative"},
                {"0000.jpg 99999999999", "class index 99999999999 is too large (at most 999999)"},
                {"0000.jpg 1000000", "class index 1000000 is too large (at most 999999)"},
                {"0000.jpg +5", "class index +5 has a sign; write it as 5"},
        };
        for (String[] c : cases) {
            Path list = Files.writeString(dir.resolve("list.txt"), "0000.jpg 0\n" + c[0] + "\n0000.jpg 1\n");
            assertThatThrownBy(() -> FileListDataset.open(list)).as(c[0]).isInstanceOf(DataException.class)
                    .hasMessage(list + " line 2: " + c[1]);
        }
        Path names = Files.writeString(dir.resolve("names.txt"), "0000.jpg cat\n0000.jpg 7\n");
        assertThatThrownBy(() -> FileListDataset.open(names)).hasMessage(names + " line 2: label '7' is a class index "
                + "but line 1's label 'cat' is a class name; give indices on every line or names on every line");
        // the largest index, leading zeros, and a path with spaces written with a tab are fine
        Path good = Files.writeString(dir.resolve("good.txt"), "0000.jpg 999999\n0000.jpg 007\n 0000.jpg\t 3 \n");
        FileListDataset data = FileListDataset.open(good);
        assertThat(data.label(0)).isEqualTo(999_999);
        assertThat(data.label(1)).isEqualTo(7);
        assertThat(data.label(2)).isEqualTo(3);
        assertThat(data.path(2)).isEqualTo(dir.resolve("0000.jpg"));
        assertThat(data.classes()).hasSize(1_000_000);
        Path spaced = Files.writeString(dir.resolve("spaced.txt"), "0000.jpg\nmy photo.jpg\n");
        assertThatThrownBy(() -> FileListDataset.open(spaced)).as("a path with a space and no tab reads as a label")
                .hasMessage(spaced + " line 2: has a label but line 1 has none; label every line or none");
    }

    /** A UTF-8 byte-order mark is not part of the first path. */
    @Test
    void aByteOrderMarkIsIgnored(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("a.jpg"), "x");
        Path list = Files.writeString(dir.resolve("bom.txt"), "\uFEFFa.jpg cat\na.jpg dog\n");
        FileListDataset data = FileListDataset.open(list);
        assertThat(data.path(0)).isEqualTo(dir.resolve("a.jpg"));
        assertThat(data.classes()).containsExactly("cat", "dog");
    }

    /** Every listed path, not only the first, must be an existing regular file: one line naming the list, line, path. */
    @Test
    void everyListedPathIsCheckedWhenTheListIsOpened(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("a.jpg"), "x");
        Files.createDirectories(dir.resolve("sub"));
        String[][] cases = {
                {"b.jpg", "listed image " + dir.resolve("b.jpg") + " does not exist"},
                {"\"a.jpg\"", "listed image " + dir.resolve("\"a.jpg\"") + " does not exist (quotes are read as part of the"
                        + " path: write it without them; a path with spaces needs a tab after it)"},
                {"sub", "listed image " + dir.resolve("sub") + " is a folder, not a file"},
                {"/dev/null", "listed image /dev/null is not a regular file"},
        };
        for (String[] c : cases) {
            Path list = Files.writeString(dir.resolve("list.txt"), "a.jpg\n# a comment\n" + c[0] + "\na.jpg\n");
            assertThatThrownBy(() -> FileListDataset.open(list)).as(c[0]).isInstanceOf(DataException.class)
                    .hasMessage(list + " line 3: " + c[1]);
        }
        Path folderFirst = Files.writeString(dir.resolve("first.txt"), "sub\n");
        assertThatThrownBy(() -> FileListDataset.open(folderFirst))
                .hasMessage(folderFirst + " line 1: listed image " + dir.resolve("sub") + " is a folder, not a file");
    }

    /** The cost of checking every entry: 1000 listed files open in milliseconds. */
    @Test
    void checkingAThousandEntriesIsCheap(@TempDir Path dir) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            Files.writeString(dir.resolve(i + ".jpg"), "x");
            sb.append(i).append(".jpg ").append(i % 10).append('\n');
        }
        Path list = Files.writeString(dir.resolve("list.txt"), sb);
        FileListDataset.open(list); // warm up
        long best = Long.MAX_VALUE;
        for (int r = 0; r < 5; r++) {
            long t0 = System.nanoTime();
            assertThat(FileListDataset.open(list).size()).isEqualTo(1000);
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf("FileListDataset.open, 1000 entries checked: %.2f ms%n", best / 1e6);
        assertThat(best).isLessThan(1_000_000_000L);
    }

    /** ImageDataset.open: a folder is an ImageFolder, a file a file list; anything else is one line naming it. */
    @Test
    void openChoosesByWhatThePathIs(@TempDir Path dir) throws IOException {
        Path folder = TestPaths.repoRoot().resolve("data/cifar10-sample");
        assertThat(ImageDataset.open(folder)).isInstanceOf(ImageFolder.class);
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/a.jpg"), "x");
        Path list = Files.writeString(dir.resolve("list.txt"), "sub/a.jpg cat\n");
        ImageDataset data = ImageDataset.open(list);
        assertThat(data).isInstanceOf(FileListDataset.class);
        assertThat(data.path(0)).isEqualTo(dir.toAbsolutePath().normalize().resolve("sub/a.jpg"));
        assertThat(data.classes()).containsExactly("cat");
        Path missing = dir.resolve("nope.txt");
        assertThatThrownBy(() -> ImageDataset.open(missing)).isInstanceOf(DataException.class)
                .hasMessage("image folder or file list not found: " + missing.toAbsolutePath().normalize());
        Path mixed = Files.writeString(dir.resolve("mixed.txt"), "sub/a.jpg cat\nsub/a.jpg\n");
        assertThatThrownBy(() -> ImageDataset.open(mixed)).isInstanceOf(DataException.class)
                .hasMessage(mixed.toAbsolutePath().normalize() + " line 2: has no label but line 1 has one; label every line or none");
    }
}
