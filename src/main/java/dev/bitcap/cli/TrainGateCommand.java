package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.attention.SeerGateFile;
import dev.bitcap.format.AtomicFiles;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.train.GateTrainer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train-gate", mixinStandardHelpOptions = true,
        description = "Train a SeerAttention gate for a model by self-distillation from its own attention (the model stays frozen).")
final class TrainGateCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 training text")
    Path text;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "gate file to write (.safetensors); the loss curve goes beside it as FILE.loss.csv")
    Path out;

    @Option(names = "--block", defaultValue = "64", paramLabel = "B", description = "block size in tokens (default: ${DEFAULT-VALUE})")
    int block;

    @Option(names = "--steps", defaultValue = "300", paramLabel = "N", description = "Adam steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--gate-dim", defaultValue = "32", paramLabel = "G", description = "width of the gate space, even (default: ${DEFAULT-VALUE})")
    int gateDim;

    @Option(names = "--ctx", paramLabel = "N", description = "tokens per training window (default: the model's context, at most 4096)")
    Integer ctx;

    @Option(names = "--batch", defaultValue = "4", paramLabel = "N", description = "windows per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--max-windows", defaultValue = "64", paramLabel = "N", description = "windows taken from the start of the text (default: ${DEFAULT-VALUE})")
    int maxWindows;

    @Option(names = "--lr", defaultValue = "1e-2", paramLabel = "LR", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the initial weights (default: ${DEFAULT-VALUE})")
    long seed;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(text)) throw new BitcapException("text file " + text + " does not exist");
        if (ctx != null && ctx < 2) throw new BitcapException("--ctx must be >= 2, got " + ctx);
        String content = Files.readString(text, StandardCharsets.UTF_8);
        PrintWriter o = spec.commandLine().getOut();
        try (LoadedModel model = modelOptions.load()) {
            int window = ctx != null ? ctx : Math.min(4096, model.config().maxContext());
            var options = new GateTrainer.Options(block, gateDim, steps, window, batch, maxWindows, lr, seed);
            int[] ids = ModelOptions.requireTokenizer(model).encode(content, true);
            Progress windows = new Progress("model passes", 0);
            int every = Math.max(1, steps / 20);
            long start = System.nanoTime();
            GateTrainer.Result r = GateTrainer.train(model, ids, options, new GateTrainer.Listener() {
                @Override
                public void windows(int done, int total) {
                    windows.update(done, total);
                }

                @Override
                public void step(int step, int total, double loss, double[] layerLosses, double rate) {
                    if (step == 1 || step % every == 0 || step == total) {
                        o.printf(Locale.ROOT, "step %d/%d  loss %.5f  lr %.2e%n", step, total, loss, rate);
                        o.flush();
                    }
                }
            });
            SeerGateFile.write(out, r.gate());
            Path csv = out.resolveSibling(out.getFileName() + ".loss.csv");
            writeCurve(csv, r.layerLossesByStep());
            SeerGate.Shape s = r.gate().shape();
            o.printf(Locale.ROOT, "wrote %s (block %d, gate dim %d, %d layers, model %s fingerprint %s) and %s; %d windows of %d tokens, %.1f s%n",
                    out, s.block(), s.gateDim(), s.layers(), r.gate().modelName(), r.gate().modelFingerprint(), csv, r.windows(), window,
                    (System.nanoTime() - start) / 1e9);
        }
        return 0;
    }

    private static void writeCurve(Path csv, List<double[]> byStep) {
        StringBuilder b = new StringBuilder("step,loss");
        for (int l = 0; l < byStep.get(0).length; l++) b.append(",layer").append(l);
        b.append('\n');
        for (int step = 0; step < byStep.size(); step++) {
            double[] layers = byStep.get(step);
            double total = 0;
            for (double v : layers) total += v;
            b.append(step + 1).append(',').append(String.format(Locale.ROOT, "%.6f", total));
            for (double v : layers) b.append(',').append(String.format(Locale.ROOT, "%.6f", v));
            b.append('\n');
        }
        AtomicFiles.write(csv, temp -> Files.writeString(temp, b, StandardCharsets.UTF_8));
    }
}
