package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.cap.CapConfiguration;
import dev.bitcap.cap.CapPlan;
import dev.bitcap.cap.CapResult;
import dev.bitcap.cap.CapRunner;
import dev.bitcap.cap.CapSettings;
import dev.bitcap.cap.Ceilings;
import dev.bitcap.cap.GpuCeilings;
import dev.bitcap.cap.CostModel;
import dev.bitcap.cap.CountingMode;
import dev.bitcap.cap.ExactMatchTasks;
import dev.bitcap.cap.ReportWriter;
import dev.bitcap.cap.ResultsWriter;
import dev.bitcap.cap.Workload;
import dev.bitcap.hw.CpuProbe;
import dev.bitcap.hw.DeviceSpec;
import dev.bitcap.hw.HardwareCatalog;
import dev.bitcap.model.synth.BuiltinModel;
import dev.bitcap.tensor.Parallel;
import dev.bitcap.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "cap", mixinStandardHelpOptions = true,
        description = {"The CAP benchmark (MoE-CAP): cost, accuracy and performance of a model over a matrix of weight formats,",
                "KV formats and devices. Writes results.json, results.csv and an offline report.html into --out.",
                "Without arguments: the built-in tiny MoE on this CPU over F32, INT8, INT4-asym, AFP4, INT2+clip and STBLLM."})
final class CapCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "JSON config holding any of the settings below (flags override it; see docs/CAP.md)")
    Path config;

    @Option(names = "--model", paramLabel = "PATH", description = "checkpoint to benchmark (default: the built-in tiny MoE)")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer, where the model has none inside")
    Path tokenizer;

    @Option(names = "--eval-text", paramLabel = "FILE", description = "text for perplexity and agreement windows (default: random token windows)")
    Path evalText;

    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: cap-results)")
    Path out;

    @Option(names = "--input-len", paramLabel = "N", description = "prompt tokens per request (default 64)")
    Integer inputLen;

    @Option(names = "--output-len", paramLabel = "N", description = "generated tokens per request (default 32)")
    Integer outputLen;

    @Option(names = "--batch", split = ",", paramLabel = "B", description = "batch sizes, e.g. 1,8,32 (default 1,8)")
    List<Integer> batch;

    @Option(names = "--rounds", paramLabel = "N", description = "batches per batch size (default 1)")
    Integer rounds;

    @Option(names = "--prompts", paramLabel = "FILE", description = "prompts, one per line, instead of random token ids")
    Path prompts;

    @Option(names = "--tasks", paramLabel = "FILE",
            description = "exact-match tasks, JSONL: {\"prompt\": ..., \"answer\": ..., \"extract\": \"exact|first-line|first-number|regex:<re>\"} per line; their accuracy is the radar's")
    Path tasks;

    @Option(names = "--task-max-tokens", paramLabel = "N", description = "greedy tokens per task that sets no max_tokens (default 32)")
    Integer taskMaxTokens;

    @Option(names = "--weights", split = ",", paramLabel = "SPEC",
            description = "weight choices format[:method[:group[:N:M]]], e.g. f32,int4-asym:gptq:128,binary:stbllm:128:4:8")
    List<String> weights;

    @Option(names = "--kv", split = ",", paramLabel = "KV", description = "KV formats run with every weight choice (default f32)")
    List<String> kv;

    @Option(names = "--device", split = ",", paramLabel = "DEV", description = "devices (default cpu)")
    List<String> devices;

    @Option(names = "--hardware", paramLabel = "ID", description = "catalog entry for datasheet peaks, power and price (default cpu-local)")
    String hardware;

    @Option(names = "--catalog", paramLabel = "FILE", description = "a JSON catalog overlaid on the built-in one")
    Path catalog;

    @Option(names = "--no-probe", description = "do not measure the ceilings before the run (this CPU's; GPU 0's for cuda configurations)")
    boolean noProbe;

    @Option(names = "--mode", paramLabel = "MODE", description = "counting shown first: paper or moecap-compat (both are always written)")
    String mode;

    @Option(names = "--cost-formula", paramLabel = "F", description = "amortised (price over the lifetime + energy) or moecap")
    String costFormula;

    @Option(names = "--lifetime-years", paramLabel = "Y", description = "service life the price is spread over (default 3)")
    Double lifetimeYears;

    @Option(names = "--usd-per-kwh", paramLabel = "USD", description = "electricity price (default 0.15)")
    Double usdPerKwh;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (config != null && !Files.isRegularFile(config)) throw new BitcapException("--config " + config + ": no such file");
        CapSettings s = config != null ? CapSettings.read(config) : new CapSettings();
        applyFlags(s);
        if (s.evalText != null && !Files.isRegularFile(s.evalText)) throw new BitcapException("eval text " + s.evalText + ": no such file");
        if (s.tasksFile != null && !Files.isRegularFile(s.tasksFile)) throw new BitcapException("tasks " + s.tasksFile + ": no such file");
        if (s.taskMaxTokens < 1) throw new BitcapException("task max tokens must be >= 1, got " + s.taskMaxTokens);
        ExactMatchTasks taskSet = s.tasksFile == null ? null : ExactMatchTasks.read(s.tasksFile, s.taskMaxTokens);
        HardwareCatalog cat = HardwareCatalog.load(s.catalog);
        DeviceSpec hw = cat.get(s.hardware);
        Ceilings measured = Ceilings.NONE;
        boolean terminal = System.console() != null;
        String machine = CpuProbe.cpuName() + ", " + Parallel.threads() + " threads";
        Ceilings measuredCuda = Ceilings.NONE;
        List<String> runDevices = s.configurations().stream().map(CapConfiguration::device).distinct().toList();
        boolean onlyCuda = !runDevices.isEmpty() && runDevices.stream().allMatch("cuda"::equals);
        if (s.probe && !onlyCuda) {
            if (terminal) System.err.println("measuring this CPU's ceilings (bandwidth, FMA) ...");
            CpuProbe.Result p = CpuProbe.run(new CpuProbe.Options(512L << 20, 1L << 20, 10_000, 5_000_000));
            measured = new Ceilings("measured cpu fp32", p.readGBs() * 1e9, p.fp32Gflops() * 1e9);
            if (hw.id().equals(HardwareCatalog.LOCAL_CPU)) hw = p.asDevice(hw);
        }
        if (s.probe && runDevices.contains("cuda")) {
            if (terminal) System.err.println("measuring GPU 0's ceilings (HBM bandwidth, fp32 and tensor-core throughput) ...");
            measuredCuda = GpuCeilings.measure(s.computeDtype);
            machine += "; GPU 0: " + measuredCuda.label();
        }
        Workload workload = new Workload(s.inputLength, s.outputLength, s.batchSizes, readPrompts(s), s.rounds, s.seed);
        CostModel cost = new CostModel(s.costFormula, s.lifetimeYears, s.utilisation, s.usdPerKwh, s.costDevices);
        CapPlan plan = new CapPlan(s.model, s.tokenizer, s.evalText, workload, s.configurations(), s.mode, cost, hw, s.computeDtype, measured,
                s.accuracyWindows, s.accuracyContext, s.calibText, s.calibSamples, s.calibSeqLen, measuredCuda, taskSet);

        long start = System.nanoTime();
        CapRunner runner = new CapRunner(plan, new CapRunner.Listener() {
            @Override
            public void started(int index, int total, CapConfiguration c) {
                if (terminal) System.err.printf("[%d/%d] %s (%.0f s)%n", index, total, c.name(), (System.nanoTime() - start) / 1e9);
            }

            @Override
            public void finished(CapResult r) {
                if (terminal && r.status() != CapResult.Status.OK) System.err.printf("      batch %d %s: %s%n", r.batch(), r.status().name().toLowerCase(), r.note());
            }
        });
        List<CapResult> results = runner.run();
        double seconds = (System.nanoTime() - start) / 1e9;

        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("model", s.model != null ? s.model.toString() : "built-in " + BuiltinModel.NAME + " (random weights)");
        facts.put("machine", machine);
        facts.put("date", OffsetDateTime.now().withNano(0).toString());
        facts.put("workload", String.format(Locale.ROOT, "%s prompt tokens, %d output tokens, batch sizes %s, %d round(s)",
                workload.prompts() == null ? String.valueOf(workload.inputLength()) : "file " + s.promptsFile, workload.outputLength(), workload.batchSizes(), workload.rounds()));
        facts.put("hardware", hw.id() + " (" + hw.name() + "), power " + fmt(hw.powerW()) + " W, price $" + fmt(hw.priceUsd()));
        facts.put("ceilings", ceil(plan.datasheet()) + "; " + ceil(measured) + (runDevices.contains("cuda") ? "; " + ceil(measuredCuda) : ""));
        facts.put("cost", cost.formula().cliName() + (cost.formula() == CostModel.Formula.AMORTISED
                ? String.format(Locale.ROOT, ", %.3g years, utilisation %.3g, $%.3g/kWh", cost.lifetimeYears(), cost.utilisation(), cost.usdPerKwh())
                : " (1.2·energy + 1.25·capital)"));
        facts.put("counting", s.mode.cliName() + " shown first; both written to results.json");
        facts.put("run time", String.format(Locale.ROOT, "%.1f s", seconds));
        List<String> notes = new ArrayList<>();
        if (taskSet != null) {
            notes.add("Accuracy is " + taskSet.measure() + ": greedy generation per task, the answer extracted by the task's rule and compared "
                    + "ignoring case and surrounding space; each task's output is in task-outputs.jsonl.");
        } else if (s.model == null) {
            notes.add("The built-in tiny MoE has random weights: its accuracy is agreement with its own unquantized (f32) self on random token windows, not task accuracy.");
        }
        notes.add("S-MBU/S-MFU count attention, routers, shared experts and only the experts the router picked in each pass (paper counting); "
                + "moecap-compat follows the public MoE-CAP code's formulas. See docs/CAP.md.");
        if (hw.id().equals(HardwareCatalog.LOCAL_CPU)) notes.add("Price and power of this CPU are an assumption (catalog cpu-local: " + hw.source() + ").");

        Path dir = s.out;
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("bitcap", "cap");
        facts.forEach((k, v) -> run.put(k.replace(' ', '_'), v));
        run.put("notes", notes);
        ResultsWriter.writeJson(dir.resolve("results.json"), run, results);
        ResultsWriter.writeCsv(dir.resolve("results.csv"), results);
        if (taskSet != null) ResultsWriter.writeJsonLines(dir.resolve("task-outputs.jsonl"), runner.taskOutputs());
        ReportWriter.write(dir.resolve("report.html"), new ReportWriter.Context("bitcap CAP report", facts, plan.datasheet(),
                onlyCuda ? measuredCuda : measured, s.mode, notes), results);
        printSummary(out, results, s.mode, taskSet != null);
        out.printf("%nran %d configurations in %.1f s; report: %s%n", plan.configurations().size(), seconds, dir.resolve("report.html").toAbsolutePath());
        return 0;
    }

    private void applyFlags(CapSettings s) {
        if (model != null) s.model = model;
        if (tokenizer != null) s.tokenizer = tokenizer;
        if (evalText != null) s.evalText = evalText;
        if (out != null) s.out = out;
        if (inputLen != null) s.inputLength = inputLen;
        if (outputLen != null) s.outputLength = outputLen;
        if (batch != null) s.batchSizes = batch;
        if (rounds != null) s.rounds = rounds;
        if (prompts != null) s.promptsFile = prompts;
        if (weights != null) s.weights = weights.stream().map(CapSettings::parseWeights).toList();
        if (kv != null) {
            s.kv = kv;
            s.kvWithF32Weights = List.of();
        }
        if (devices != null) s.devices = devices;
        if (hardware != null) s.hardware = hardware;
        if (catalog != null) s.catalog = catalog;
        if (noProbe) s.probe = false;
        if (tasks != null) s.tasksFile = tasks;
        if (taskMaxTokens != null) s.taskMaxTokens = taskMaxTokens;
        if (mode != null) s.mode = CountingMode.byName(mode);
        if (costFormula != null) s.costFormula = CostModel.Formula.byName(costFormula);
        if (lifetimeYears != null) s.lifetimeYears = lifetimeYears;
        if (usdPerKwh != null) s.usdPerKwh = usdPerKwh;
    }

    private static List<int[]> readPrompts(CapSettings s) {
        if (s.promptsFile == null) return null;
        List<String> lines;
        try {
            lines = Files.readAllLines(s.promptsFile).stream().filter(l -> !l.isBlank()).toList();
        } catch (IOException e) {
            throw new BitcapException("prompts file " + s.promptsFile + ": cannot read (" + e.getMessage() + ")");
        }
        try (var m = dev.bitcap.model.ModelLoader.load(s.model != null ? s.model : BuiltinModel.path(), s.tokenizer)) {
            Tokenizer tok = ModelOptions.requireTokenizer(m);
            List<int[]> ids = new ArrayList<>();
            for (String line : lines) ids.add(tok.encode(line, true));
            return ids;
        }
    }

    private static void printSummary(PrintWriter out, List<CapResult> results, CountingMode mode, boolean tasks) {
        String p = mode == CountingMode.PAPER ? "" : "compat_";
        out.printf("%-40s %5s %8s %9s %9s %8s %8s %7s %9s %s %s%n", "configuration", "batch", "TPOT ms", "decode/s", "S-MBU dec", "S-MFU dec",
                "top-1", "KL", "$/Mtok", tasks ? "   tasks" : "", " status");
        for (CapResult r : results) {
            if (r.status() != CapResult.Status.OK) {
                out.printf("%-40s %5d %s: %s%n", r.configuration().name(), r.batch(), r.status().name().toLowerCase(), r.note());
                continue;
            }
            out.printf(Locale.ROOT, "%-40s %5d %8.2f %9.1f %9.4f %8.5f %8.3f %7.4f %9s %s  ok%n", r.configuration().name(), r.batch(), r.number("tpot_s") * 1e3,
                    r.number("decode_tokens_per_s"), r.number(p + "decode_smbu_measured"), r.number(p + "decode_smfu_measured"),
                    r.number("top1_agreement"), r.number("mean_kl"), fmt(r.number("cost_usd_per_mtok")),
                    tasks ? String.format(Locale.ROOT, "%3d/%-4d", (int) r.number("task_correct"), (int) r.number("task_count")) : "");
        }
        out.println("(S-MBU/S-MFU against this machine's measured ceilings, " + mode.cliName() + " counting; top-1 = agreement with f32)");
    }

    private static String ceil(Ceilings c) {
        return String.format(Locale.ROOT, "%s: %s GB/s, %s GFLOP/s", c.label(), fmt(c.bytesPerSecond() / 1e9), fmt(c.flopsPerSecond() / 1e9));
    }

    private static String fmt(Double v) {
        if (v == null || !Double.isFinite(v)) return "n/a";
        return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.3g", v);
    }
}
