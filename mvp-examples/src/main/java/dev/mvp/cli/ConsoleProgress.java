package dev.mvp.cli;

import dev.mvp.train.RunListener;
import dev.mvp.train.RunSummary;
import dev.mvp.train.StepMetrics;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Shows a run's progress: a progress bar with ETA when stdout is a terminal, otherwise plain lines (about twenty
 * per run, plus the first and the last step) that read well in logs.
 */
final class ConsoleProgress implements RunListener {
    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean terminal;
    private ProgressBar bar;
    private long every = 1;
    private long firstStep;
    private long startNanos;

    ConsoleProgress(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
        var console = System.console();
        this.terminal = console != null && console.isTerminal();
    }

    @Override public void started(long firstStep, long totalSteps, String description) {
        this.firstStep = firstStep;
        this.startNanos = System.nanoTime();
        this.every = Math.max(1, (totalSteps - firstStep) / 20);
        if (terminal) {
            bar = new ProgressBarBuilder().setTaskName("pretrain").setInitialMax(totalSteps)
                    .startsFrom(firstStep, Duration.ZERO).setStyle(ProgressBarStyle.ASCII).showSpeed()
                    .setUnit(" steps", 1).setConsumer(new ConsoleProgressBarConsumer(new PrintStream(System.out, true)))
                    .build();
        }
    }

    @Override public void step(StepMetrics m, long totalSteps) {
        String stats = String.format("loss %.4f %s %.4f lr %.2e %.1f img/s", m.loss(), m.metricName(), m.metric(), m.lr(),
                m.imagesPerS());
        if (bar != null) {
            bar.stepTo(m.step());
            bar.setExtraMessage(stats);
            return;
        }
        if (m.step() == firstStep + 1 || m.step() % every == 0 || m.step() == totalSteps) {
            double elapsed = (System.nanoTime() - startNanos) / 1e9;
            double eta = elapsed / (m.step() - firstStep) * (totalSteps - m.step());
            out.printf("step %d/%d epoch %d %s grad-norm %.3f elapsed %s eta %s%n", m.step(), totalSteps, m.epoch(), stats,
                    m.gradNorm(), duration(elapsed), duration(eta));
            out.flush();
        }
    }

    @Override public void checkpoint(Path folder) {
        if (bar == null) {
            out.println("checkpoint " + folder);
            out.flush();
        }
    }

    @Override public void warning(String line) {
        if (bar != null) bar.pause();
        err.println("warning: " + line);
        err.flush();
        if (bar != null) bar.resume();
    }

    @Override public void message(String line) {
        if (bar != null) bar.pause();
        out.println("mvp pretrain: " + line);
        out.flush();
        if (bar != null) bar.resume();
    }

    @Override public void finished(RunSummary summary) {
        if (bar != null) bar.close();
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                : String.format("%dm%02ds", s / 60, s % 60);
    }
}
