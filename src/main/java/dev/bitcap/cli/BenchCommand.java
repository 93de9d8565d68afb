package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Generator;
import dev.bitcap.engine.PassRecord;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.SamplerSettings;
import dev.bitcap.engine.Sequence;
import dev.bitcap.engine.WeightTraffic;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.tensor.MemoryBandwidth;
import dev.bitcap.tensor.Parallel;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Prefill and decode tokens/s for a model and prompt length, after a warm-up.",
                "Without --model it runs the built-in tiny MoE and also shows a short greedy generation."})
final class BenchCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin ParallelOptions parallelOptions;

    @Option(names = "--prompt-len", defaultValue = "128", description = "prompt tokens (default: ${DEFAULT-VALUE})")
    int promptLen;

    @Option(names = "--gen", defaultValue = "32", description = "decode steps measured (default: ${DEFAULT-VALUE})")
    int gen;

    @Option(names = "--batch", defaultValue = "1", description = "sequences decoded together (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--repeat", defaultValue = "3", description = "measured runs; the best is reported (default: ${DEFAULT-VALUE})")
    int repeat;

    @Option(names = "--bound", description = "measure this machine's memory bandwidth and report decode as a fraction of the bandwidth bound")
    boolean bound;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Option(names = "--kv-fill", paramLabel = "N",
            description = {"cuda with --kv fp16/int4/int2: instead of a prompt, fill each sequence's cache with N positions of synthetic "
                    + "keys and values (every layer, through the pack kernel; N may end in K or M, or be 'max': the most the pool "
                    + "holds), then time --gen decode steps there. May pass the model's trained context (timing only)."})
    String kvFill;

    @Option(names = "--kv-capacity", description = {"cuda: print, per KV format, bytes per position and the longest context per "
            + "sequence (of --batch) that fits the device memory free after the weights, then exit"})
    boolean kvCapacity;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    /**
     * Positions of {@code --kv-fill}: a count, with an optional K (x1024) or M (x1048576) suffix; -1 for "max".
     * Refuses anything else, and counts below 1 or past the largest int, with a one-line message.
     */
    static int parseFill(String text) {
        String t = text.trim();
        if (t.equalsIgnoreCase("max")) return -1;
        long unit = 1;
        if (t.endsWith("K") || t.endsWith("k")) unit = 1024;
        else if (t.endsWith("M") || t.endsWith("m")) unit = 1024 * 1024;
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new BitcapException("--kv-fill takes a number of positions (e.g. 131072, 128K, 1M) or 'max', got '" + text + "'");
        }
        if (n < 1 || n * unit > Integer.MAX_VALUE - 1024) {
            throw new BitcapException("--kv-fill must be between 1 and " + (Integer.MAX_VALUE - 1024) + " positions, got '" + text + "'");
        }
        return (int) (n * unit);
    }

    /** @param firstTokenNanos System.nanoTime() when the first token (the prompt pass's greedy choice) was back */
    private record Run(double prefillSeconds, double decodeSeconds, double decodeBytesPerStep, long firstTokenNanos) {}

    @Override
    public Integer call() throws Exception {
        if (promptLen < 1 || gen < 1 || batch < 1 || repeat < 1) {
            throw new BitcapException("--prompt-len, --gen, --batch and --repeat must be >= 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        int fill = kvFill == null ? 0 : parseFill(kvFill);
        PassRecorder recorder = new PassRecorder();
        try (LoadedModel model = modelOptions.load(); Backend backend = modelOptions.backend(model, recorder, parallelOptions)) {
            if (kvCapacity) return capacity(out, model, backend);
            int ctx = model.config().maxContext();
            if (fill != 0) {
                if (!(backend instanceof dev.bitcap.cuda.CudaBackend cuda) || cuda.kvPool() == null) {
                    throw new BitcapException("--kv-fill runs on --device cuda with --kv fp16, int4 or int2");
                }
                if (fill < 0) fill = maxFill(cuda);
            } else if (promptLen + gen > ctx) {
                throw new BitcapException("--prompt-len + --gen = " + (promptLen + gen) + " exceeds the context of " + ctx);
            }
            fillPositions = fill;
            WeightTraffic traffic = new WeightTraffic(model, modelOptions.kvSpec());
            // warm-up: JIT, page cache, and on a GPU the kernels (compiled, or read from the disk cache) and cuBLAS
            warmingUp = true;
            Run first = once(backend, recorder, traffic, Math.min(promptLen, 16), Math.min(gen, 4), model);
            warmingUp = false;
            Run best = null;
            for (int r = 0; r < repeat; r++) {
                Run run = once(backend, recorder, traffic, promptLen, gen, model);
                if (best == null || run.decodeSeconds() < best.decodeSeconds()) best = run;
            }
            double prefillTps = (double) batch * (fillPositions > 0 ? fillPositions : promptLen) / best.prefillSeconds();
            double decodeTps = (double) batch * gen / best.decodeSeconds();
            double stepSeconds = best.decodeSeconds() / gen;
            double achieved = best.decodeBytesPerStep() / stepSeconds;
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("model", modelOptions.describe());
            res.put("device", backend.name());
            res.put("threads", Parallel.threads());
            res.put("batch", batch);
            if (fillPositions > 0) {
                res.put("kv_fill_positions", fillPositions);
                res.put("kv_fill_seconds_in_place_of_prefill", best.prefillSeconds());
            } else {
                res.put("prompt_tokens", promptLen);
            }
            res.put("decode_steps", gen);
            res.put(fillPositions > 0 ? "kv_fill_positions_per_s_all_layers" : "prefill_tokens_per_s", prefillTps);
            res.put("decode_tokens_per_s", decodeTps);
            res.put("time_per_output_token_ms", stepSeconds * 1e3);
            res.put("ttft_ms", best.prefillSeconds() * 1e3);
            // the first request of the process (the warm-up's prompt) pays every first-use cost; from the process start
            // it also includes the JVM start, the model load and the weights' upload
            res.put("first_request_prompt_tokens", Math.min(promptLen, 16));
            res.put("first_request_ttft_ms", first.prefillSeconds() * 1e3);
            long startedMs = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
            res.put("process_start_to_first_token_ms", (double) (System.currentTimeMillis() - startedMs)
                    - (System.nanoTime() - first.firstTokenNanos()) / 1e6);
            if (backend instanceof dev.bitcap.cuda.CudaBackend cuda) {
                var cache = cuda.device().cache();
                res.put("kernel_modules_compiled", cache.misses());
                res.put("kernel_compile_ms", cache.compileNanos() / 1e6);
                res.put("kernel_modules_from_cache", cache.hits());
                res.put("kernel_cache_dir", cache.dir().toString());
            }
            res.put("kv_cache", modelOptions.kvSpec().describe(model.config().headDim()));
            res.put("kv_bytes_per_sequence_at_end", traffic.kvBytes((fillPositions > 0 ? fillPositions : promptLen) + gen));
            if (backend instanceof dev.bitcap.cuda.CudaBackend cuda && cuda.kvPool() != null) {
                res.put("kv_pool_pages_in_use_after_runs", cuda.kvPool().pagesInUse());
                res.put("kv_pool_pages", cuda.kvPool().maxPages());
            }
            res.put("decode_bytes_per_step", best.decodeBytesPerStep());
            res.put("decode_bandwidth_gb_per_s", achieved / 1e9);
            if (bound) {
                double bw = MemoryBandwidth.measureRead(1L << 30, 5);
                res.put("measured_read_bandwidth_gb_per_s", bw / 1e9);
                res.put("decode_tokens_per_s_bound", batch * bw / best.decodeBytesPerStep());
                res.put("fraction_of_bound", achieved / bw);
                double triad = MemoryBandwidth.measureTriad(1L << 30, 5);
                res.put("stream_triad_bandwidth_gb_per_s", triad / 1e9);
                res.put("fraction_of_stream_triad_bound", achieved / triad);
            }
            if (json) {
                out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(res));
            } else {
                res.forEach((k, v) -> out.printf("%-34s %s%n", k.replace('_', ' '), v instanceof Double d ? String.format("%.4g", d) : v));
            }
            if (modelOptions.model == null && !json) sample(out, model, backend);
        }
        return 0;
    }

    /** Positions each sequence's cache is filled with in place of a prompt (--kv-fill); 0: a prompt. */
    private int fillPositions;
    private boolean warmingUp;

    /** --kv-fill max: the most positions per sequence whole pages of the pool give, less the first token and the decode steps. */
    private int maxFill(dev.bitcap.cuda.CudaBackend cuda) {
        long positions = (long) (cuda.kvPool().maxPages() / batch) * dev.bitcap.cuda.CudaKvLayout.PAGE_TOKENS;
        positions = Math.min(positions, Integer.MAX_VALUE - 1024L) - gen - 1;
        if (positions < 1) throw new BitcapException("--kv-fill max: the KV pool of " + cuda.kvPool().maxPages() + " pages holds no context for "
                + batch + " sequences and " + gen + " steps");
        return (int) positions;
    }

    private int capacity(PrintWriter out, LoadedModel model, Backend backend) throws Exception {
        if (!(backend instanceof dev.bitcap.cuda.CudaBackend cuda)) throw new BitcapException("--kv-capacity runs on --device cuda");
        var c = model.config();
        long free = cuda.device().memoryInfo()[0];
        long pool = cuda.kvPool() == null ? 0 : cuda.kvPool().bytesReserved();
        var spec = modelOptions.kvSpec();
        var limits = dev.bitcap.cuda.CudaKvCapacity.all(spec.group(), spec.keys(), c.layers(), c.kvHeads(), c.headDim(), free + pool, batch);
        Map<String, Object> res = new LinkedHashMap<>();
        res.put("model", modelOptions.describe());
        res.put("device", cuda.device().name());
        res.put("free_bytes_after_weights", free + pool);
        res.put("headroom_bytes", dev.bitcap.cuda.CudaKvCapacity.HEADROOM_BYTES);
        res.put("sequences", batch);
        res.put("model_trained_context", c.maxContext());
        for (var l : limits) {
            String k = "kv_" + l.format() + "_";
            res.put(k + "bytes_per_position", l.bytesPerPosition());
            res.put(k + "longest_context_per_sequence", l.positionsPerSequence());
            res.put(k + "pool_mb", l.poolBytes() >> 20);
        }
        if (json) out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(res));
        else res.forEach((k, v) -> out.printf("%-40s %s%n", k.replace('_', ' '), v instanceof Double d ? String.format("%.4g", d) : v));
        return 0;
    }

    private Run once(Backend backend, PassRecorder recorder, WeightTraffic traffic, int promptTokens, int steps, LoadedModel model) {
        SplittableRandom rnd = new SplittableRandom(7);
        int vocab = model.config().vocabSize();
        List<Sequence> seqs = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        int[] next; // the greedy tokens, chosen by the backend (on a GPU: there, one int per sequence back)
        long t0 = System.nanoTime();
        if (fillPositions > 0) {
            // The warm-up (fewer steps) fills a short context; measured runs fill the whole --kv-fill.
            int positions = warmingUp ? Math.min(fillPositions, 4096) : fillPositions;
            dev.bitcap.cuda.CudaBackend cuda = (dev.bitcap.cuda.CudaBackend) backend;
            for (int b = 0; b < batch; b++) seqs.add(cuda.filledSequence(positions, steps + 1, 11 + b));
            List<int[]> first = new ArrayList<>();
            for (int b = 0; b < batch; b++) first.add(new int[] {rnd.nextInt(vocab)});
            // the fill (timed from t0) and the first token stand in for the prefill
            next = backend.forwardGreedy(seqs, first);
        } else {
            for (int b = 0; b < batch; b++) {
                seqs.add(backend.newSequence(promptTokens + steps));
                prompts.add(rnd.ints(promptTokens, 0, vocab).toArray());
            }
            t0 = System.nanoTime();
            next = backend.forwardGreedy(seqs, prompts);
        }
        long t1 = System.nanoTime();
        recorder.clear();
        for (int s = 0; s < steps; s++) {
            List<int[]> step = new ArrayList<>();
            for (int token : next) step.add(new int[] {token});
            next = backend.forwardGreedy(seqs, step);
        }
        long t2 = System.nanoTime();
        double bytes = recorder.records().stream().filter(r -> r.mode() == PassRecord.Mode.DECODE)
                .mapToLong(traffic::bytes).average().orElse(0);
        if (fillPositions > 0) for (Sequence s : seqs) s.cache().release(); // the pool's pages back before the next run fills
        return new Run((t1 - t0) / 1e9, (t2 - t1) / 1e9, bytes, t1);
    }

    private static void sample(PrintWriter out, LoadedModel model, Backend backend) {
        var tok = ModelOptions.requireTokenizer(model);
        int[] ids = GenerateCommand.promptIds(model, tok, "Once upon a time");
        var result = new Generator(backend, model.config().maxContext()).generate(List.of(ids), 24, SamplerSettings.GREEDY,
                tok.stopIds(), (s, t) -> {});
        out.println();
        out.println("greedy sample (random weights, so the text is noise): \"Once upon a time" + tok.decode(result.tokens().get(0), true) + "\"");
    }
}
