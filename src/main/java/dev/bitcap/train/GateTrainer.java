package dev.bitcap.train;

import dev.bitcap.BitcapException;
import dev.bitcap.attention.SeerGate;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.ModelFingerprint;
import java.util.ArrayList;
import java.util.List;

/**
 * Trains a {@link SeerGate} by self-distillation with the model frozen: each window of the text goes once
 * through the model with a {@link GateTargetCollector} as its attention (dense results, plus what the gate
 * learns from), and the gate then takes Adam steps on the sum over layers of {@link GateLoss}, a few windows per
 * step. The model's passes do not depend on the gate, so each window's samples are computed once and reused.
 */
public final class GateTrainer {
    /**
     * @param windowTokens tokens per training window (each from an empty cache)
     * @param batch        windows averaged per step
     * @param maxWindows   windows taken from the start of the text, cycled through by the steps
     */
    public record Options(int block, int gateDim, int steps, int windowTokens, int batch, int maxWindows, double learningRate, long seed) {
        public Options {
            if (block < 2) throw new BitcapException("--block must be >= 2, got " + block);
            if (steps < 1) throw new BitcapException("--steps must be >= 1, got " + steps);
            if (batch < 1) throw new BitcapException("--batch must be >= 1, got " + batch);
            if (maxWindows < 1) throw new BitcapException("--max-windows must be >= 1, got " + maxWindows);
            if (!(learningRate > 0)) throw new BitcapException("--lr must be > 0, got " + learningRate);
            if (windowTokens < 2 * block) throw new BitcapException("--ctx " + windowTokens + " must hold at least two blocks of " + block);
        }
    }

    /** Training progress: windows run through the model, then each step's loss (summed over layers) and per-layer losses. */
    public interface Listener {
        void windows(int done, int total);

        void step(int step, int steps, double loss, double[] layerLosses, double learningRate);
    }

    public record Result(SeerGate gate, int windows, List<double[]> layerLossesByStep) {}

    private GateTrainer() {}

    public static Result train(LoadedModel model, int[] ids, Options o, Listener listener) {
        ModelConfig c = model.config();
        if (o.windowTokens() > c.maxContext()) {
            throw new BitcapException("--ctx " + o.windowTokens() + " exceeds the model's context of " + c.maxContext() + " tokens");
        }
        int windows = Math.min(o.maxWindows(), ids.length / o.windowTokens());
        if (windows == 0) throw new BitcapException("the text has " + ids.length + " tokens, fewer than one window of --ctx " + o.windowTokens());
        SeerGate.Shape shape = new SeerGate.Shape(c.layers(), c.heads(), c.kvHeads(), c.headDim(), o.gateDim(), o.block());
        float[] f = c.ropeScaling().inverseFrequencies(o.gateDim(), c.ropeTheta());
        double[] invFreq = new double[f.length];
        for (int i = 0; i < f.length; i++) invFreq[i] = f[i];
        SeerGate gate = SeerGate.initialised(shape, invFreq, c.ropeStyle(), ModelFingerprint.of(model), model.name(), o.seed());

        List<GateSample[]> samples = collect(model, ids, o.windowTokens(), windows, o.block(), listener);

        int layers = c.layers();
        double[][] params = new double[2 * layers][], grads = new double[2 * layers][];
        for (int l = 0; l < layers; l++) {
            params[2 * l] = gate.queryWeights(l);
            params[2 * l + 1] = gate.keyWeights(l);
        }
        Adam adam = new Adam(params);
        List<double[]> curve = new ArrayList<>();
        int warmup = Math.min(20, Math.max(1, o.steps() / 10));
        for (int step = 0; step < o.steps(); step++) {
            for (int a = 0; a < params.length; a++) grads[a] = new double[params[a].length];
            double[] layerLoss = new double[layers];
            for (int b = 0; b < o.batch(); b++) {
                GateSample[] window = samples.get((step * o.batch() + b) % windows);
                for (int l = 0; l < layers; l++) {
                    layerLoss[l] += GateLoss.compute(gate, l, window[l], grads[2 * l], grads[2 * l + 1], 1.0 / o.batch()) / o.batch();
                }
            }
            double lr = learningRate(o.learningRate(), step, o.steps(), warmup);
            adam.step(grads, lr);
            double total = 0;
            for (double v : layerLoss) total += v;
            curve.add(layerLoss);
            listener.step(step + 1, o.steps(), total, layerLoss, lr);
        }
        return new Result(gate, windows, curve);
    }

    /** Linear warm-up, then cosine decay to a tenth of the peak. */
    static double learningRate(double peak, int step, int steps, int warmup) {
        if (step < warmup) return peak * (step + 1) / warmup;
        double progress = (double) (step - warmup) / Math.max(1, steps - warmup);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    private static List<GateSample[]> collect(LoadedModel model, int[] ids, int ctx, int windows, int block, Listener listener) {
        ModelConfig c = model.config();
        GateTargetCollector collector = new GateTargetCollector(c.layers(), c.heads(), c.kvHeads(), c.headDim(), block);
        List<GateSample[]> out = new ArrayList<>(windows);
        try (CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
            backend.replaceAttention(collector);
            for (int w = 0; w < windows; w++) {
                Sequence seq = backend.newSequence(ctx);
                backend.forward(List.of(seq), List.of(java.util.Arrays.copyOfRange(ids, w * ctx, (w + 1) * ctx)), false);
                out.add(collector.samples());
                listener.windows(w + 1, windows);
            }
        }
        return out;
    }
}
