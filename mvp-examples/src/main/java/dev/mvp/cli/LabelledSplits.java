package dev.mvp.cli;

import dev.mvp.data.ImageDataset;
import dev.mvp.data.ImageFolder;
import dev.mvp.eval.Subset;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The labelled training and evaluation folders of the classification commands (knn, linprobe, finetune). */
final class LabelledSplits {

    @Option(names = "--train", paramLabel = "DIR", required = true, description = "Labelled training images (class sub-folders).")
    Path train;

    @Option(names = "--val", paramLabel = "DIR", required = true, description = "Labelled evaluation images (class sub-folders).")
    Path val;

    @Option(names = "--train-per-class", paramLabel = "N", defaultValue = "0", description = "Only the first N training images per class (0: all).")
    int trainPerClass;

    @Option(names = "--val-per-class", paramLabel = "N", defaultValue = "0", description = "Only the first N evaluation images per class (0: all).")
    int valPerClass;

    /** Both splits, opened; a usage error when their class folders differ ({@code what} needs them equal). */
    Opened open(String what) {
        ImageDataset trainSet = dataset(train, trainPerClass, "--train");
        ImageDataset valSet = dataset(val, valPerClass, "--val");
        if (!trainSet.classes().equals(valSet.classes())) {
            throw new Main.UsageException("--train and --val have different classes (" + difference(trainSet.classes(),
                    valSet.classes()) + "): " + what + " needs the same class folders in both");
        }
        return new Opened(trainSet, valSet);
    }

    record Opened(ImageDataset train, ImageDataset val) {}

    /** An image folder, optionally cut to its first {@code perClass} images per class (0: all). */
    private static ImageDataset dataset(Path dir, int perClass, String flag) {
        if (perClass < 0) throw new Main.UsageException(flag + "-per-class must be >= 0, got " + perClass);
        ImageFolder folder;
        try {
            folder = ImageFolder.open(dir);
        } catch (dev.mvp.data.DataException e) {
            throw new dev.mvp.data.DataException(flag + ": " + e.getMessage(), e); // as pretrain's --data
        }
        return perClass == 0 ? folder : Subset.perClass(folder, perClass);
    }

    /**
     * How two class lists differ, in words: the first position whose names differ ({@code class 3 is 'dog' in --train,
     * 'dot' in --val}) or the names one of them lacks, with the counts.
     */
    static String difference(java.util.List<String> train, java.util.List<String> val) {
        String counts = train.size() + " vs " + val.size();
        for (int i = 0; i < Math.min(train.size(), val.size()); i++) {
            if (!train.get(i).equals(val.get(i))) {
                return counts + "; class " + i + " is '" + train.get(i) + "' in --train, '" + val.get(i) + "' in --val";
            }
        }
        return train.size() > val.size()
                ? counts + "; --val has no '" + train.get(val.size()) + "'"
                : counts + "; --train has no '" + val.get(train.size()) + "'";
    }
}
