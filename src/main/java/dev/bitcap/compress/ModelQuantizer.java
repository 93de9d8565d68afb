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
import dev.bitcap.quant.ClipSearch;
import dev.bitcap.quant.GptqQuantizer;
import dev.bitcap.quant.GroupQuantized;
import dev.bitcap.quant.LayerStatistics;
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
    /** @param groupSize input columns per group, or -1 for one group per row */
    public record Options(QuantFormat format, int groupSize, QuantMethod method, List<String> skip) {
        public Options {
            skip = List.copyOf(skip);
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
     */
    public record Result(LoadedModel model, List<String> quantized, List<String> skipped, long quantizedWeights, double bitsPerWeight,
                         double seconds) {}

    /** Statistics memory per calibration pass; layers are grouped into passes that fit. */
    private static final long STATS_BUDGET_BYTES = 3L << 30;

    private final LoadedModel source;
    private final Options o;
    private final Listener listener;
    private final Map<MatrixSlot, Tensor> todo = new LinkedHashMap<>();
    private final List<String> skipped = new ArrayList<>();

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
            } else if (!todo.containsKey(slot)) {
                QuantFormats.resolveGroupSize(o.groupSize(), (int) t.cols()); // a bad group size fails before any work
                // calibration would meet a non-finite weight only as non-finite activations downstream: name the tensor first
                if (o.method().needsCalibration()) requireFinite(name, t);
                todo.put(slot, t);
            }
            return w;
        });
        Arena arena = Arena.ofShared();
        Map<MatrixSlot, QuantizedTensor> done = new HashMap<>();
        try {
            if (o.method().needsCalibration()) {
                for (List<MatrixSlot> pass : passes()) {
                    Map<MatrixSlot, LayerStatistics> stats = collect(pass, calibration);
                    for (MatrixSlot slot : pass) quantizeOne(slot, stats.get(slot), arena, done);
                }
            } else {
                for (MatrixSlot slot : todo.keySet()) quantizeOne(slot, null, arena, done);
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
            QuantizedTensor q = e.getValue();
            long n = q.rows() * q.cols();
            count += n;
            bits += n * QuantFormats.bitsPerWeight(q.format(), (int) q.cols(), q.groupSize());
            if (q.inputScale() != null) bits += 32.0 * q.cols(); // AWQ's F32 input scales are stored too
            names.add(name(e.getKey()));
        }
        return new Result(source.withWeights(weights, arena), names, skipped, count, count == 0 ? 0 : bits / count,
                (System.nanoTime() - start) / 1e9);
    }

    private void quantizeOne(MatrixSlot slot, LayerStatistics stats, Arena arena, Map<MatrixSlot, QuantizedTensor> done) {
        Tensor t = todo.get(slot);
        String name = name(slot);
        int rows = (int) t.rows(), cols = (int) t.cols();
        int g = QuantFormats.resolveGroupSize(o.groupSize(), cols);
        float[] w = t.toFloatArray();
        float[] inputScale = null;
        GroupQuantized q;
        // an expert no calibration token was routed to has no statistics: round it to nearest
        boolean calibrated = stats != null && stats.tokens() > 0;
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
        listener.matrixDone(name, done.size(), todo.size());
    }

    /** The matrices to quantize, layer by layer, grouped so that one pass's statistics fit the budget. */
    private List<List<MatrixSlot>> passes() {
        List<List<MatrixSlot>> passes = new ArrayList<>();
        List<MatrixSlot> current = new ArrayList<>();
        Map<InputKey, Boolean> keys = new HashMap<>();
        long bytes = 0;
        int layer = Integer.MIN_VALUE;
        for (MatrixSlot slot : todo.keySet()) {
            long cols = todo.get(slot).cols();
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
                s = new LayerStatistics((int) todo.get(slot).cols());
                byInput.put(key, s);
                watch.put(slot, s); // matrices sharing an input (q, k, v) are watched once
            }
            bySlot.put(slot, s);
        }
        Weights.Model watched = Weights.mapMatrices(source.weights(), (slot, w) -> {
            LayerStatistics s = watch.get(slot);
            return s == null ? w : new ActivationCapture(w, (x, n, cols) -> {
                try {
                    s.add(n * cols == x.length ? x : java.util.Arrays.copyOf(x, n * cols), n);
                } catch (BitcapException e) {
                    throw new BitcapException("the input of " + name(slot) + " on the calibration text: " + e.getMessage(), e);
                }
            });
        });
        LoadedModel view = new LoadedModel(source.name(), source.format(), source.config(), watched, source.tokenizer(), List.of());
        // the head sees every position only when all logits are asked for
        boolean allLogits = slots.stream().anyMatch(s -> s.role() == WeightRole.LM_HEAD);
        try (CpuBackend backend = new CpuBackend(view, PassRecorder.NONE)) {
            for (int[] window : calibration.windows()) {
                Sequence seq = backend.newSequence(window.length);
                backend.forward(List.of(seq), List.of(window), allLogits);
            }
        }
        return bySlot;
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
