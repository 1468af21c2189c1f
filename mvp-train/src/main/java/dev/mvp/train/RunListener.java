package dev.mvp.train;

import java.nio.file.Path;

/** Receives a run's progress (the command line prints it; tests collect it). All methods default to no-ops. */
public interface RunListener {
    default void started(long firstStep, long totalSteps, String description) {}

    default void step(StepMetrics metrics, long totalSteps) {}

    default void checkpoint(Path folder) {}

    default void warning(String line) {}

    /** Progress of work besides the steps (e.g. building a teacher cache). */
    default void message(String line) {}

    default void finished(RunSummary summary) {}
}
