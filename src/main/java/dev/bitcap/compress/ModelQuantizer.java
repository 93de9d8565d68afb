package dev.bitcap.compress;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.MatrixSlot;
import dev.bitcap.model.WeightRole;
import dev.bitcap.model.Weights;
import dev.bitcap.quant.ActivationCapture;
import dev.bitcap.quant.AwqScaler;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.BinaryQuantized;
import dev.bitcap.quant.BinaryQuantizer;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.quant.ClipSearch;
import dev.bitcap.quant.GptqQuantizer;
import dev.bitcap.quant.GroupQuantized;
import dev.bitcap.quant.LayerStatistics;
import dev.bitcap.quant.NmMask;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.quant.RtnQuantizer;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.tensor.WeightMatrix;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Quantizes every weight matrix of a loaded model with one format and method. Methods that need calibration run
 * the full-precision model over the calibration windows, with the matrices of a few layers at a time watched
 * for their inputs (their statistics, XᵀX per distinct input, would not all fit in memory for a large model),
 * then quantize those layers. Routers stay in their stored dtype (small, and they decide which experts run);
 * matrices whose name contains a {@code skip} pattern are kept too.
 */
public final class ModelQuantizer {
    /**
     * @param format the group format; null for the binary methods (billm, stbllm), which make {@code binary}
     * @param groupSize input columns per group, or -1 for one group per row (binary: blocks of 128, ignored)
     * @param keptPer8 binary methods: the N of an N:M mask (kept per 8 columns; 8 = dense); 8 for the others
     */
    public record Options(QuantFormat format, int groupSize, QuantMethod method, List<String> skip, int keptPer8) {
        public Options {
            skip = List.copyOf(skip);
            if (method.binary() != (format == null)) {
                throw new BitcapException("method " + method.cliName() + (method.binary() ? " makes binary weights; it takes no group format"
                        : " needs a group format"));
            }
            if (!method.binary() && keptPer8 != BinaryLayout.M) throw new BitcapException("an N:M mask applies to the binary methods (billm, stbllm) only");
            if (keptPer8 < 1 || keptPer8 > BinaryLayout.M) throw new BitcapException("N:M: " + keptPer8 + " kept per 8 is not in 1..8");
        }

        public Options(QuantFormat format, int groupSize, QuantMethod method, List<String> skip) {
            this(format, groupSize, method, skip, BinaryLayout.M);
        }
    }

    /** Told after each matrix. */
    @FunctionalInterface
    public interface Listener {
        void matrixDone(String name, int done, int total);
    }

    /**
     * @param model the quantized model (takes over the source model's files: close only this one)
     * @param bitsPerWeight stored bits per weight over the quantized matrices, parameters and AWQ input scales included
     * @param keptPer8ByLayer stbllm with N:M: the N each transformer layer got; otherwise null
     */
    public record Result(LoadedModel model, List<String> quantized, List<String> skipped, long quantizedWeights, double bitsPerWeight,
                         double seconds, int[] keptPer8ByLayer) {}

    /** Statistics memory per calibration pass; layers are grouped into passes that fit. */
    /**
     * At most 3 GiB, and at most a quarter of the heap: GPTQ on a matrix of n inputs also needs a few n² double
     * matrices of its own (the Cholesky factor and its inverse), e.g. 1.5 GiB for an 8192-wide down projection.
     */
    private static final long STATS_BUDGET_BYTES = Math.min(3L << 30, Runtime.getRuntime().maxMemory() / 4);

    private final LoadedModel source;
    private final Options o;
    private final Listener listener;
    private final Map<MatrixSlot, Tensor> pending = new LinkedHashMap<>();
    private final List<String> skipped = new ArrayList<>();
    /** stbllm with N:M: N per transformer layer (OWL-style allocation); null otherwise. */
    private int[] keptByLayer;

    private ModelQuantizer(LoadedModel source, Options options, Listener listener) {
        this.source = source;
        this.o = options;
        this.listener = listener;
    }

    /** Quantizes {@code source}; {@code calibration} is required when the method needs it. */
    public static Result quantize(LoadedModel source, Options options, CalibrationSet calibration, Listener listener) {
        if (options.method().needsCalibration() && calibration == null) {
            throw new BitcapException("method " + options.method().cliName() + " needs calibration text (--calib FILE)");
        }
        return new ModelQuantizer(source, options, listener).run(calibration);
    }

    private Result run(CalibrationSet calibration) {
        long start = System.nanoTime();
        Weights.mapMatrices(source.weights(), (slot, w) -> {
            String name = name(slot);
            if (slot.role() == WeightRole.ROUTER || o.skip().stream().anyMatch(name::contains)) {
                skipped.add(name);
            } else if (!(w instanceof Tensor t)) {
                throw new BitcapException(name + " is already quantized (" + w.storage() + "); quantize a full-precision model");
            } else if (!pending.containsKey(slot)) {
                if (!o.method().binary()) QuantFormats.resolveGroupSize(o.groupSize(), (int) t.cols()); // a bad group size fails before any work
                // calibration would meet a non-finite weight only as non-finite activations downstream: name the tensor first
                if (o.method().needsCalibration()) requireFinite(name, t);
                pending.put(slot, t);
            }
            return w;
        });
        Arena arena = Arena.ofShared();
        Map<MatrixSlot, WeightMatrix> done = new HashMap<>();
        try {
            if (o.method() == QuantMethod.STBLLM && o.keptPer8() < BinaryLayout.M) keptByLayer = allocateKeptPerLayer(calibration);
            if (o.method().needsCalibration()) {
                for (List<MatrixSlot> pass : passes()) {
                    Map<MatrixSlot, LayerStatistics> stats = collect(pass, calibration);
                    for (MatrixSlot slot : pass) quantizeOne(slot, stats.get(slot), arena, done);
                }
            } else {
                for (MatrixSlot slot : pending.keySet()) quantizeOne(slot, null, arena, done);
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        // a tied head that is quantized becomes its own matrix; the embedding stays as stored
        Weights.Model weights = Weights.mapMatrices(source.weights(), (slot, w) -> done.containsKey(slot) ? done.get(slot) : w);
        long count = 0;
        double bits = 0;
        List<String> names = new ArrayList<>();
        for (var e : done.entrySet()) {
            WeightMatrix q = e.getValue();
            long n = q.rows() * q.cols();
            count += n;
            bits += n * switch (q) {
                // AWQ's F32 input scales (one per column) are stored too
                case QuantizedTensor g -> QuantFormats.bitsPerWeight(g.format(), (int) g.cols(), g.groupSize())
                        + (g.inputScale() != null ? 32.0 / g.rows() : 0);
                case BinaryTensor b -> b.bitsPerWeight();
                default -> throw new IllegalStateException();
            };
            names.add(name(e.getKey()));
        }
        return new Result(source.withWeights(weights, arena), names, skipped, count, count == 0 ? 0 : bits / count,
                (System.nanoTime() - start) / 1e9, keptByLayer == null ? null : keptByLayer.clone());
    }

    private void quantizeOne(MatrixSlot slot, LayerStatistics stats, Arena arena, Map<MatrixSlot, WeightMatrix> done) {
        Tensor t = pending.get(slot);
        String name = name(slot);
        int rows = (int) t.rows(), cols = (int) t.cols();
        float[] w = t.toFloatArray();
        // an expert no calibration token was routed to has no statistics: round it to nearest (binary: no feedback)
        boolean calibrated = stats != null && stats.tokens() > 0;
        if (o.method().binary()) {
            done.put(slot, BinaryTensor.pack(binarize(slot, name, w, rows, cols, calibrated ? stats : null), arena));
            listener.matrixDone(name, done.size(), pending.size());
            return;
        }
        int g = QuantFormats.resolveGroupSize(o.groupSize(), cols);
        float[] inputScale = null;
        GroupQuantized q;
        switch (calibrated ? o.method() : QuantMethod.RTN) {
            case RTN -> q = RtnQuantizer.quantize(o.format(), w, rows, cols, g, name);
            case CLIP -> q = ClipSearch.search(name, o.format(), w, rows, cols, g, stats);
            case GPTQ -> q = GptqQuantizer.quantize(name, o.format(), w, rows, cols, g, stats.hessian());
            case AWQ -> {
                AwqScaler.Result r = AwqScaler.search(name, o.format(), w, rows, cols, g, stats);
                q = r.quantized();
                inputScale = r.inputScale();
            }
            default -> throw new IllegalStateException();
        }
        done.put(slot, QuantizedTensor.pack(q, inputScale, arena));
        listener.matrixDone(name, done.size(), pending.size());
    }

    /**
     * billm or stbllm on one matrix. Without statistics (an expert no token reached) the Hessian is the identity
     * (no feedback) and every input column counts as norm 1, so the mask follows |W| alone.
     */
    private BinaryQuantized binarize(MatrixSlot slot, String name, float[] w, int rows, int cols, LayerStatistics stats) {
        double[] h, norms;
        if (stats != null) {
            h = stats.hessian();
            norms = NmMask.columnNorms(stats.meanSquare(), stats.tokens());
        } else {
            h = new double[cols * cols];
            for (int i = 0; i < cols; i++) h[i * cols + i] = 1;
            norms = new double[cols];
            java.util.Arrays.fill(norms, 1);
        }
        boolean stb = o.method() == QuantMethod.STBLLM;
        int n = keptByLayer != null && slot.layer() >= 0 ? keptByLayer[slot.layer()] : o.keptPer8();
        boolean[] keep = null;
        if (n < BinaryLayout.M) {
            keep = NmMask.select(stb ? NmMask.standardizedImportance(w, rows, cols, norms) : NmMask.wanda(w, rows, cols, norms), rows, cols, n);
        }
        return BinaryQuantizer.quantize(name, w, rows, cols, h, keep, n, stb ? 3 : 2);
    }

    /**
     * STBLLM's layer-wise N: one calibration pass records ‖x_j‖₂ of every matrix's input columns (cheap: no XᵀX),
     * then each layer's outlier ratio over its matrices' Standardized Importance scores sets its N
     * ({@link NmAllocation}).
     */
    private int[] allocateKeptPerLayer(CalibrationSet calibration) {
        Map<InputKey, double[]> sums = new HashMap<>();
        Map<MatrixSlot, ActivationCapture.Sink> watch = new HashMap<>();
        for (MatrixSlot slot : pending.keySet()) {
            InputKey key = InputKey.of(slot);
            if (sums.containsKey(key)) continue;
            double[] sum = new double[(int) pending.get(slot).cols()];
            sums.put(key, sum);
            watch.put(slot, (x, n, cols) -> {
                for (int t = 0; t < n; t++) {
                    for (int j = 0; j < cols; j++) sum[j] += (double) x[t * cols + j] * x[t * cols + j];
                }
            });
        }
        runCalibration(watch, calibration);
        int layers = source.config().layers();
        List<List<double[]>> scores = new ArrayList<>();
        for (int l = 0; l < layers; l++) scores.add(new ArrayList<>());
        for (MatrixSlot slot : pending.keySet()) {
            if (slot.layer() < 0) continue;
            Tensor t = pending.get(slot);
            double[] sum = sums.get(InputKey.of(slot)), norms = new double[sum.length];
            for (int j = 0; j < sum.length; j++) norms[j] = Math.sqrt(sum[j]);
            scores.get(slot.layer()).add(NmMask.standardizedImportance(t.toFloatArray(), (int) t.rows(), (int) t.cols(), norms));
        }
        double[] ratios = new double[layers];
        for (int l = 0; l < layers; l++) ratios[l] = NmAllocation.outlierRatio(scores.get(l).toArray(double[][]::new));
        return NmAllocation.allocate(ratios, o.keptPer8());
    }

    /** The matrices to quantize, layer by layer, grouped so that one pass's statistics fit the budget. */
    private List<List<MatrixSlot>> passes() {
        List<List<MatrixSlot>> passes = new ArrayList<>();
        List<MatrixSlot> current = new ArrayList<>();
        Map<InputKey, Boolean> keys = new HashMap<>();
        long bytes = 0;
        int layer = Integer.MIN_VALUE;
        for (MatrixSlot slot : pending.keySet()) {
            long cols = pending.get(slot).cols();
            boolean newKey = !keys.containsKey(InputKey.of(slot));
            long need = newKey ? cols * cols * Double.BYTES : 0;
            if (slot.layer() != layer && !current.isEmpty() && bytes + need > STATS_BUDGET_BYTES) {
                passes.add(current);
                current = new ArrayList<>();
                keys.clear();
                bytes = 0;
                need = cols * cols * Double.BYTES;
            }
            layer = slot.layer();
            keys.put(InputKey.of(slot), Boolean.TRUE);
            bytes += need;
            current.add(slot);
        }
        if (!current.isEmpty()) passes.add(current);
        return passes;
    }

    /** Runs the calibration windows through the full-precision model, recording the inputs of {@code slots}. */
    private Map<MatrixSlot, LayerStatistics> collect(List<MatrixSlot> slots, CalibrationSet calibration) {
        Map<InputKey, LayerStatistics> byInput = new HashMap<>();
        Map<MatrixSlot, LayerStatistics> bySlot = new HashMap<>();
        Map<MatrixSlot, LayerStatistics> watch = new HashMap<>();
        for (MatrixSlot slot : slots) {
            InputKey key = InputKey.of(slot);
            LayerStatistics s = byInput.get(key);
            if (s == null) {
                s = new LayerStatistics((int) pending.get(slot).cols());
                byInput.put(key, s);
                watch.put(slot, s); // matrices sharing an input (q, k, v) are watched once
            }
            bySlot.put(slot, s);
        }
        Map<MatrixSlot, ActivationCapture.Sink> sinks = new HashMap<>();
        watch.forEach((slot, s) -> sinks.put(slot, (x, n, cols) -> {
            try {
                s.add(n * cols == x.length ? x : java.util.Arrays.copyOf(x, n * cols), n);
            } catch (BitcapException e) {
                throw new BitcapException("the input of " + name(slot) + " on the calibration text: " + e.getMessage(), e);
            }
        }));
        runCalibration(sinks, calibration);
        return bySlot;
    }

    /** Runs the calibration windows through the full-precision model, handing the inputs of the watched matrices to their sinks. */
    private void runCalibration(Map<MatrixSlot, ActivationCapture.Sink> watch, CalibrationSet calibration) {
        Weights.Model watched = Weights.mapMatrices(source.weights(), (slot, w) -> {
            ActivationCapture.Sink s = watch.get(slot);
            return s == null ? w : new ActivationCapture(w, s);
        });
        LoadedModel view = new LoadedModel(source.name(), source.format(), source.config(), watched, source.tokenizer(), List.of());
        // the head sees every position only when all logits are asked for
        boolean allLogits = watch.keySet().stream().anyMatch(s -> s.role() == WeightRole.LM_HEAD);
        try (CpuBackend backend = new CpuBackend(view, PassRecorder.NONE)) {
            for (int[] window : calibration.windows()) {
                Sequence seq = backend.newSequence(window.length);
                backend.forward(List.of(seq), List.of(window), allLogits);
            }
        }
    }

    private static void requireFinite(String name, Tensor t) {
        float[] w = t.toFloatArray();
        int cols = (int) t.cols();
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new BitcapException("tensor " + name + " has a non-finite weight " + w[i] + " at row " + i / cols + ", column " + i % cols);
            }
        }
    }

    private String name(MatrixSlot slot) {
        return slot.hfName(source.config().family());
    }

    /** Matrices that multiply the same activations share one set of statistics. */
    private record InputKey(int layer, int expert, String input) {
        static InputKey of(MatrixSlot s) {
            String input = switch (s.role()) {
                case Q, K, V -> "attention";
                case O -> "attention-output";
                case GATE, UP, ROUTER, SHARED_GATE, SHARED_UP -> "mlp";
                case DOWN -> "down";
                case EXPERT_GATE, EXPERT_UP -> "expert";
                case EXPERT_DOWN -> "expert-down";
                case SHARED_DOWN -> "shared-down";
                case LM_HEAD -> "head";
                default -> s.role().name();
            };
            return new InputKey(s.layer(), s.role().name().startsWith("EXPERT") ? s.expert() : -1, input);
        }
    }
}
