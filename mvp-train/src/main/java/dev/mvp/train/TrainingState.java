package dev.mvp.train;

/**
 * Where a run stands, written as {@code state.json} in each checkpoint. With the seed, this is every random state of
 * the run: the data order, crops, flips and masks are drawn from (seed, epoch, position in epoch), and libtorch's
 * generators are re-seeded from (seed, step) before every step (their states are saved as well, in
 * {@code rng.safetensors}).
 *
 * @param step          optimisation steps completed
 * @param epoch         epoch of the next batch
 * @param batchInEpoch  position of the next batch within its epoch
 * @param seed          the run's seed
 * @param skippedSteps  steps skipped because the loss or a gradient was not finite
 * @param badFiles      images skipped because they failed to decode
 * @param run           the run-defining configuration ({@link PretrainConfig#runDefinition()}), to refuse
 *                      resuming a different run
 * @param lossScale     the float16 loss scaler's scale ({@link LossScaler}); 0 for a run without one (and in
 *                      checkpoints written before the scaler existed)
 * @param lossScaleGrowthTracker the scaler's good steps since its scale last changed
 */
public record TrainingState(long step, int epoch, long batchInEpoch, long seed, long skippedSteps, long badFiles,
                            java.util.Map<String, String> run, double lossScale, int lossScaleGrowthTracker) {

    /** A state without a loss scaler. */
    public TrainingState(long step, int epoch, long batchInEpoch, long seed, long skippedSteps, long badFiles,
                         java.util.Map<String, String> run) {
        this(step, epoch, batchInEpoch, seed, skippedSteps, badFiles, run, 0, 0);
    }
}
