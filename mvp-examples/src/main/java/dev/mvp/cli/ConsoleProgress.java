package dev.mvp.cli;

import dev.mvp.train.RunListener;
import dev.mvp.train.RunSummary;
import dev.mvp.train.StepMetrics;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarRenderer;
import me.tongfei.progressbar.ProgressState;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Shows a run's progress: a progress bar with ETA when stdout is a terminal, otherwise plain lines (about twenty
 * per run, plus the first and the last step) that read well in logs. The bar's line is {@link #barLine}: fields
 * separated by spaces, and on a narrow terminal the step's figures are dropped (the last first) before the bar
 * would shrink below {@link #MIN_BAR} columns.
 */
final class ConsoleProgress implements RunListener {
    private final PrintWriter out;
    private final PrintWriter err;
    private final boolean terminal;
    private ProgressBar bar;
    private long every = 1;
    private long firstStep;
    private long startNanos;
    /** The step's figures shown after the bar, most important first. */
    private volatile List<String> fields = List.of();

    /** The bar's narrowest width, in characters between the brackets. */
    static final int MIN_BAR = 10;
    /** The bar's widest width. */
    static final int MAX_BAR = 40;

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
            ProgressBarRenderer renderer = (state, width) -> barLine(state.getTaskName(), state.getCurrent(),
                    state.getMax(), state.getStart(), state.getElapsedAfterStart(), fields, width);
            bar = new ProgressBarBuilder().setTaskName("pretrain").setInitialMax(totalSteps)
                    .startsFrom(firstStep, Duration.ZERO).setRenderer(renderer)
                    .setConsumer(new ConsoleProgressBarConsumer(new PrintStream(System.out, true)))
                    .build();
        }
    }

    @Override public void step(StepMetrics m, long totalSteps) {
        String stats = String.format("loss %.4f %s %.4f lr %.2e %.1f img/s", m.loss(), m.metricName(), m.metric(), m.lr(),
                m.imagesPerS());
        if (bar != null) {
            fields = List.of(String.format(Locale.ROOT, "loss %.4f", m.loss()),
                    String.format(Locale.ROOT, "%s %.4f", m.metricName(), m.metric()),
                    String.format(Locale.ROOT, "lr %.2e", m.lr()), String.format(Locale.ROOT, "%.1f img/s", m.imagesPerS()));
            bar.stepTo(m.step());
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

    /**
     * One line of the bar, at most {@code width} characters: {@code pretrain  45% [=====>    ] 45/100 eta 0m36s
     * 1.50 steps/s loss -0.5212 cosine 0.5212 lr 1.23e-03 35.2 img/s}. The bar takes what the text leaves, between
     * {@link #MIN_BAR} and {@link #MAX_BAR} columns; when the text leaves less than {@link #MIN_BAR}, the fields go,
     * the last first, then the speed and ETA, and only then does the bar shrink.
     */
    static String barLine(String task, long current, long max, long start, Duration elapsed, List<String> fields, int width) {
        double done = max <= 0 ? 0 : Math.min(1, current / (double) max);
        String head = String.format(Locale.ROOT, "%s %3d%% [", task, (int) Math.floor(done * 100));
        List<String> tail = new ArrayList<>();
        tail.add("] " + current + "/" + max);
        long ran = current - start;
        double seconds = elapsed.toNanos() / 1e9;
        if (ran > 0 && seconds > 0) {
            tail.add("eta " + duration(seconds / ran * (max - current)));
            tail.add(String.format(Locale.ROOT, "%.2f steps/s", ran / seconds));
        }
        tail.addAll(fields);
        int room;
        while (true) {
            room = width - head.length() - String.join(" ", tail).length();
            if (room >= MIN_BAR || tail.size() == 1) break;
            tail.removeLast();
        }
        int barWidth = Math.max(0, Math.min(MAX_BAR, room));
        int filled = (int) Math.floor(done * barWidth);
        StringBuilder line = new StringBuilder(head);
        line.append("=".repeat(filled));
        if (filled < barWidth) line.append('>').append(" ".repeat(barWidth - filled - 1));
        line.append(String.join(" ", tail));
        return line.length() <= width ? line.toString() : line.substring(0, Math.max(0, width));
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
                : String.format("%dm%02ds", s / 60, s % 60);
    }
}
