package dev.bitcap.cap;

import dev.bitcap.BitcapException;
import dev.bitcap.compress.CalibrationSet;
import dev.bitcap.compress.ModelQuantizer;
import dev.bitcap.compress.QuantMethod;
import dev.bitcap.cuda.CudaBackend;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Backends;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecord;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.kv.KeyGrouping;
import dev.bitcap.kv.KvFormat;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.synth.BuiltinModel;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Runs the benchmark: for each configuration, builds the model (quantized in memory from the unquantized
 * checkpoint), measures its agreement with the unquantized model, runs the workload at each batch size with every
 * forward pass recorded, and turns the records into CAP figures. A configuration this build cannot run is recorded
 * as skipped, one that fails as failed, and the run goes on.
 */
public final class CapRunner {
    /** KV-cache formats this build can run; the low-bit ones plug in here when the KV work lands. */
    static final Set<String> KV_FORMATS = Set.of("f32", "fp16", "int4", "int2");

    /** Told as the run goes. */
    public interface Listener {
        void started(int index, int total, CapConfiguration c);

        void finished(CapResult r);
    }

    private final CapPlan plan;
    private final Listener listener;
    private final List<Map<String, Object>> taskOutputs = new ArrayList<>();

    public CapRunner(CapPlan plan, Listener listener) {
        this.plan = plan;
        this.listener = listener;
    }

    /** What every exact-match task produced on every configuration that ran (empty without tasks). */
    public List<Map<String, Object>> taskOutputs() {
        return taskOutputs;
    }

    public List<CapResult> run() {
        List<CapResult> results = new ArrayList<>();
        try (LoadedModel reference = load(); Backend refBackend = Backends.create("cpu", reference, PassRecorder.NONE)) {
            Tokenizer taskTokenizer = reference.tokenizer();
            if (plan.tasks() != null && taskTokenizer == null) {
                throw new BitcapException("tasks " + plan.tasks().file() + " need a tokenizer and model " + reference.name() + " has none (give --tokenizer)");
            }
            List<int[]> windows = accuracyWindows(reference);
            Agreement agreement = Agreement.against(refBackend, windows);
            List<int[]> calibration = null;
            int i = 0;
            for (CapConfiguration c : plan.configurations()) {
                listener.started(++i, plan.configurations().size(), c);
                String unavailable = unavailable(c);
                if (unavailable != null) {
                    for (int b : plan.workload().batchSizes()) emit(results, new CapResult(c, b, CapResult.Status.SKIPPED, unavailable, Map.of()));
                    continue;
                }
                if (calibration == null && c.quantized() && QuantMethod.byName(c.method()).needsCalibration()) calibration = calibrationWindows(reference);
                try {
                    for (CapResult r : runOne(c, agreement, calibration, taskTokenizer)) emit(results, r);
                } catch (BitcapException | IllegalArgumentException | IllegalStateException | UnsupportedOperationException | OutOfMemoryError e) {
                    String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                    for (int b : plan.workload().batchSizes()) emit(results, new CapResult(c, b, CapResult.Status.FAILED, why, Map.of()));
                }
            }
        }
        return results;
    }

    private void emit(List<CapResult> results, CapResult r) {
        results.add(r);
        listener.finished(r);
    }

    private LoadedModel load() {
        return ModelLoader.load(plan.model() != null ? plan.model() : BuiltinModel.path(), plan.tokenizer());
    }

    /** Why this build cannot run {@code c}, or null when it can (the device is tried when the run starts). */
    static String unavailable(CapConfiguration c) {
        try {
            if (c.quantized()) {
                QuantMethod method = QuantMethod.byName(c.method());
                if (!c.format().equals(BinaryLayout.NAME)) QuantFormats.byName(c.format());
                else if (!method.binary()) return "format binary is made by the binary methods (billm, stbllm), not " + c.method();
            }
        } catch (BitcapException e) {
            return "not available in this build: " + e.getMessage();
        }
        if (!KV_FORMATS.contains(c.kv())) return "not available in this build: KV format '" + c.kv() + "' (this build has " + String.join(", ", KV_FORMATS) + ")";
        return null;
    }

    private List<CapResult> runOne(CapConfiguration c, Agreement agreement, List<int[]> calibration, Tokenizer taskTokenizer) {
        PassRecorder recorder = new PassRecorder();
        LoadedModel base = load();
        LoadedModel model = base;
        // an unquantized configuration runs the checkpoint as stored, which may be 16-bit or already packed
        StoredWeights stored = StoredWeights.of(base);
        double bits = stored.bitsPerWeight();
        String label = stored.moeCapLabel();
        try {
            if (c.quantized()) {
                boolean binary = c.format().equals(BinaryLayout.NAME);
                QuantFormat format = binary ? null : QuantFormats.byName(c.format());
                QuantMethod method = QuantMethod.byName(c.method());
                CalibrationSet calib = method.needsCalibration()
                        ? new CalibrationSet(plan.calibText() != null ? plan.calibText().toString() : "random token windows", calibration,
                                plan.calibSeqLen(), 0)
                        : null;
                ModelQuantizer.Result q = ModelQuantizer.quantize(base, new ModelQuantizer.Options(format, binary ? BinaryLayout.BLOCK : c.group(),
                        method, List.of(), keptPer8(c.nm())), calib,
                        (name, done, total) -> {});
                model = q.model();
                bits = q.bitsPerWeight();
                label = MoeCapPrecision.label(c.format(), c.method());
            }
            Backend backend;
            try {
                backend = Backends.create(c.device(), model, recorder);
            } catch (BitcapException e) {
                List<CapResult> skipped = new ArrayList<>();
                for (int b : plan.workload().batchSizes()) skipped.add(new CapResult(c, b, CapResult.Status.SKIPPED, e.getMessage(), Map.of()));
                return skipped;
            }
            try (backend) {
                KvSpec kv = new KvSpec(KvFormat.parse(c.kv()), KvSpec.F32.group(), KeyGrouping.CHANNEL);
                if (backend instanceof CpuBackend cpu) {
                    kv.checkHeadDim(model.config().headDim());
                    cpu.useKv(kv, CpuBackend.defaultKvPoolBytes());
                } else if (kv.format() != KvFormat.F32) {
                    String why = null;
                    if (backend instanceof CudaBackend cuda) {
                        try {
                            cuda.useKv(kv, 0); // the GPU's paged pool: half its free memory
                        } catch (BitcapException e) {
                            why = e.getMessage(); // e.g. a head dim the GPU layout does not cover
                        }
                    } else {
                        why = "KV format " + c.kv() + " does not run on the " + backend.name() + " backend";
                    }
                    if (why != null) {
                        List<CapResult> skipped = new ArrayList<>();
                        for (int b : plan.workload().batchSizes()) skipped.add(new CapResult(c, b, CapResult.Status.SKIPPED, why, Map.of()));
                        return skipped;
                    }
                }
                Agreement.Result acc = agreement.measure(backend);
                ExactMatchScorer.Score tasks = plan.tasks() == null ? null
                        : ExactMatchScorer.score(plan.tasks(), backend, taskTokenizer, model.config().maxContext());
                if (tasks != null) recordOutputs(c, tasks);
                warmUp(backend, model);
                List<CapResult> rows = new ArrayList<>();
                for (int batch : plan.workload().batchSizes()) rows.add(measure(c, batch, model, backend, recorder, acc, tasks, bits, label));
                return rows;
            }
        } finally {
            model.close(); // the quantized model owns the base model's files and its own codes
        }
    }

    /** A short run at each batch size first, so the JIT has compiled the kernels each batch shape uses. */
    /** The N of an {@code N:8} mask; dense (8) when none is given. */
    static int keptPer8(String nm) {
        if (nm == null) return BinaryLayout.M;
        String[] p = nm.split(":");
        try {
            if (p.length == 2 && Integer.parseInt(p[1]) == BinaryLayout.M) return Integer.parseInt(p[0]);
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new BitcapException("N:M '" + nm + "': expected N:8, e.g. 4:8");
    }

    /**
     * Runs every batch size a few steps before anything is timed. On the CPU it goes on for at least
     * {@link #CPU_WARM_UP_NANOS}: a new configuration loads new kernel classes, which deoptimizes code compiled for the
     * previous ones, and the JIT needs thousands of calls to compile the new kernels; timing that would charge the
     * compiler to the configuration that happens to come later in the matrix.
     */
    private void warmUp(Backend backend, LoadedModel model) {
        int vocab = model.config().vocabSize();
        SplittableRandom rnd = new SplittableRandom(1);
        // the measured run's capacity, so that a GPU's decode graphs (one per batch size and capacity) are ready
        int capacity = Math.max(12, plan.workload().maxPromptLength() + plan.workload().outputLength());
        int steps = Math.max(3, Math.min(capacity - 9, 32));
        long deadline = System.nanoTime() + (backend instanceof CpuBackend ? CPU_WARM_UP_NANOS : 0);
        int rounds = 0;
        do {
            for (int batch : plan.workload().batchSizes()) {
                List<Sequence> seqs = new ArrayList<>();
                List<int[]> prompts = new ArrayList<>();
                for (int b = 0; b < batch; b++) {
                    seqs.add(backend.newSequence(capacity));
                    prompts.add(rnd.ints(8, 0, vocab).toArray());
                }
                int[] chosen = backend.forwardGreedy(seqs, prompts);
                for (int step = 0; step < (rounds == 0 ? 3 : steps); step++) chosen = backend.forwardGreedy(seqs, asTokens(chosen));
            }
            rounds++;
        } while (System.nanoTime() < deadline && rounds < MAX_WARM_UP_ROUNDS);
    }

    /** Each sequence's next token as its one-token input of the next pass. */
    private static List<int[]> asTokens(int[] chosen) {
        List<int[]> next = new ArrayList<>(chosen.length);
        for (int t : chosen) next.add(new int[] {t});
        return next;
    }

    /** Least warm-up time of a configuration on the CPU backend. */
    static final long CPU_WARM_UP_NANOS = 1_000_000_000L;
    private static final int MAX_WARM_UP_ROUNDS = 50;

    private CapResult measure(CapConfiguration c, int batch, LoadedModel model, Backend backend, PassRecorder recorder,
                              Agreement.Result acc, ExactMatchScorer.Score tasks, double bits, String label) {
        Workload w = plan.workload();
        int vocab = model.config().vocabSize();
        SplittableRandom rnd = new SplittableRandom(w.seed());
        int capacity = w.maxPromptLength() + w.outputLength();
        long kvAllocated = 0;
        double kvPerPosition = 0;
        int requests = 0, promptIndex = 0;
        recorder.clear();
        long start = System.nanoTime();
        for (int round = 0; round < w.rounds(); round++) {
            List<Sequence> seqs = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                Sequence s = backend.newSequence(capacity);
                seqs.add(s);
                prompts.add(w.prompts() == null ? rnd.ints(w.inputLength(), 0, vocab).toArray() : w.prompts().get(promptIndex++ % w.prompts().size()));
            }
            kvAllocated = Math.max(kvAllocated, seqs.stream().mapToLong(s -> s.cache().bytesAllocated()).sum());
            // low-bit formats keep the newest positions in fp32: average over the whole run's context
            kvPerPosition = seqs.getFirst().cache().bytesFor(capacity) / (double) capacity;
            // greedy, as serving benchmarks decode: a GPU picks the token itself and sends back one int per sequence
            int[] chosen = backend.forwardGreedy(seqs, prompts);
            for (int step = 1; step < w.outputLength(); step++) chosen = backend.forwardGreedy(seqs, asTokens(chosen));
            requests += batch;
        }
        double wall = (System.nanoTime() - start) / 1e9;
        List<PassRecord> records = recorder.records();

        ModelCosts costs = ModelCosts.of(model, kvPerPosition, c.format());
        double compatBytes = MoeCapPrecision.bytesPerParam(label);
        Map<String, Object> m = new LinkedHashMap<>();
        ServingMetrics serving = ServingMetrics.of(records, requests, wall);
        serving.putInto(m);
        long weightBytes = model.matrixBytesByStorage().values().stream().mapToLong(Long::longValue).sum();
        m.put("weight_bytes", weightBytes);
        m.put("kv_bytes_allocated", kvAllocated);
        m.put("memory_bytes", weightBytes + kvAllocated);
        m.put("bits_per_weight", bits);
        m.put("kv_bytes_per_position", kvPerPosition);
        for (CountingMode mode : CountingMode.values()) {
            SparseUtilization u = new SparseUtilization(costs, mode, compatBytes);
            putPhase(m, mode, "prefill", u.phase(records, PassRecord.Mode.PREFILL), plan.measuredFor(c.device()));
            putPhase(m, mode, "decode", u.phase(records, PassRecord.Mode.DECODE), plan.measuredFor(c.device()));
        }
        m.put("measured_ceilings", plan.measuredFor(c.device()).label());
        m.put("moecap_precision_label", label);
        // the radar's accuracy: task exact match when tasks are given, else agreement with the unquantized model
        m.put("accuracy", tasks != null ? tasks.accuracy() : acc.top1());
        m.put("accuracy_measure", tasks != null ? plan.tasks().measure() : "top-1 agreement with f32");
        if (tasks != null) {
            m.put("task_accuracy", tasks.accuracy());
            m.put("task_correct", tasks.correct());
            m.put("task_count", tasks.outcomes().size());
        }
        m.put("top1_agreement", acc.top1());
        m.put("mean_kl", acc.meanKl());
        m.put("perplexity", plan.evalText() != null ? acc.perplexity() : Double.NaN);
        long outputTokens = (long) requests * w.outputLength();
        CostModel cost = plan.cost();
        m.put("cost_formula", cost.formula().cliName());
        m.put("cost_usd", cost.usd(wall, plan.hardware().priceUsd(), plan.hardware().powerW()));
        m.put("cost_usd_per_mtok", cost.usdPerMillionTokens(wall, outputTokens, plan.hardware().priceUsd(), plan.hardware().powerW()));
        return new CapResult(c, batch, CapResult.Status.OK, "", m);
    }

    private void putPhase(Map<String, Object> m, CountingMode mode, String phase, PhaseUtilization u, Ceilings meas) {
        String p = (mode == CountingMode.PAPER ? "" : "compat_") + phase + "_";
        Ceilings sheet = plan.datasheet();
        m.put(p + "passes", u.passes());
        m.put(p + "bytes_per_s", u.bytesPerSecond());
        m.put(p + "flops_per_s", u.flopsPerSecond());
        m.put(p + "smbu_datasheet", u.smbu(sheet.bytesPerSecond()));
        m.put(p + "smfu_datasheet", u.smfu(sheet.flopsPerSecond()));
        m.put(p + "smbu_measured", u.smbu(meas.bytesPerSecond()));
        m.put(p + "smfu_measured", u.smfu(meas.flopsPerSecond()));
        if (mode == CountingMode.PAPER) {
            m.put(p + "experts_per_layer", u.meanExperts());
            m.put(p + "activated_share", u.activatedShare());
        }
    }

    private void recordOutputs(CapConfiguration c, ExactMatchScorer.Score score) {
        for (ExactMatchScorer.Outcome o : score.outcomes()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("configuration", c.name());
            row.put("line", o.task().line());
            row.put("id", o.task().id());
            row.put("extract", o.task().extract().spec());
            row.put("answer", o.task().answer());
            row.put("extracted", o.extracted());
            row.put("correct", o.correct());
            row.put("output", o.output());
            taskOutputs.add(row);
        }
    }

    /** Windows of real text when an eval text is given (tokenized once), else random token ids with a fixed seed. */
    private List<int[]> accuracyWindows(LoadedModel model) {
        int ctx = Math.min(plan.accuracyContext(), model.config().maxContext());
        if (plan.evalText() == null) return randomWindows(model, plan.accuracyWindows(), ctx, 11);
        Tokenizer tok = model.tokenizer();
        if (tok == null) throw new BitcapException("eval text " + plan.evalText() + " needs a tokenizer and model " + model.name() + " has none");
        int[] ids = tok.encode(read(plan.evalText()), false);
        List<int[]> windows = new ArrayList<>();
        for (int w = 0; w < plan.accuracyWindows() && (w + 1) * ctx <= ids.length; w++) windows.add(java.util.Arrays.copyOfRange(ids, w * ctx, (w + 1) * ctx));
        if (windows.isEmpty()) throw new BitcapException("eval text " + plan.evalText() + " has " + ids.length + " tokens, fewer than one window of " + ctx);
        return windows;
    }

    private List<int[]> calibrationWindows(LoadedModel model) {
        if (plan.calibText() == null) return randomWindows(model, plan.calibSamples(), plan.calibSeqLen(), 13);
        Tokenizer tok = model.tokenizer();
        if (tok == null) throw new BitcapException("calibration text needs a tokenizer and model " + model.name() + " has none");
        return CalibrationSet.fromText(tok, read(plan.calibText()), plan.calibText().toString(), plan.calibSamples(), plan.calibSeqLen(), 0).windows();
    }

    private static List<int[]> randomWindows(LoadedModel model, int count, int len, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) out.add(rnd.ints(len, 0, model.config().vocabSize()).toArray());
        return out;
    }

    private static String read(java.nio.file.Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new BitcapException(p + ": cannot read (" + e.getMessage() + ")");
        }
    }
}
