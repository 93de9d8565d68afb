package dev.bitcap.cap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.bitcap.BitcapException;
import dev.bitcap.hw.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The settings of a {@code bitcap cap} run as a config file states them (JSON, or YAML for a {@code .yaml}/{@code .yml}
 * file; every key optional, unknown keys and wrong types are errors naming the key), with the built-in defaults for what it leaves out. Command-line flags are
 * applied over this by the command. Paths in a file are relative to the file's folder.
 */
public final class CapSettings {
    /** A weight choice of the matrix: format, method, group and N:M. */
    public record Weights(String format, String method, int group, String nm) {}

    public Path model, tokenizer, evalText, out = Path.of("cap-results"), promptsFile, catalog, calibText, tasksFile;
    public CountingMode mode = CountingMode.PAPER;
    public int inputLength = 64, outputLength = 32, rounds = 1;
    public long seed = 7;
    public List<Integer> batchSizes = List.of(1, 8);
    public List<Weights> weights = defaultWeights();
    public List<String> kv = List.of("f32");
    /** KV formats run with unquantized weights only, besides {@link #kv} with every weight choice. */
    public List<String> kvWithF32Weights = List.of("fp16", "int4", "int2");
    public List<String> devices = List.of("cpu");
    public List<CapConfiguration> extraConfigurations = new ArrayList<>();
    public String hardware = dev.bitcap.hw.HardwareCatalog.LOCAL_CPU, computeDtype = "fp32";
    public boolean probe = true;
    public CostModel.Formula costFormula = CostModel.Formula.AMORTISED;
    public double lifetimeYears = 3, utilisation = 1, usdPerKwh = 0.15;
    public int costDevices = 1;
    public int accuracyWindows = 4, accuracyContext = 64;
    public int calibSamples = 8, calibSeqLen = 64;
    /** Greedy tokens generated per exact-match task that sets no {@code max_tokens} of its own. */
    public int taskMaxTokens = 32;

    /** The main job's weight choices: unquantized, INT8, INT4-asym, AFP4, INT2 with clipping search, STBLLM 4:8. */
    static List<Weights> defaultWeights() {
        return List.of(new Weights("f32", "", 0, null), new Weights("int8-sym", "rtn", 128, null), new Weights("int4-asym", "rtn", 128, null),
                new Weights("afp4", "rtn", 128, null), new Weights("int2-asym", "clip", 128, null), new Weights("binary", "stbllm", 128, "4:8"));
    }

    /** The configurations: every weight choice × {@link #kv} × device, then the extra KV formats with f32 weights, then the file's list. */
    public List<CapConfiguration> configurations() {
        List<CapConfiguration> out = new ArrayList<>();
        for (String device : devices) {
            for (Weights w : weights) {
                for (String k : kv) out.add(new CapConfiguration(w.format(), w.method(), w.group(), w.nm(), k, device));
            }
            for (String k : kvWithF32Weights) {
                if (!kv.contains(k)) out.add(new CapConfiguration("f32", "", 0, null, k, device));
            }
        }
        out.addAll(extraConfigurations);
        return out;
    }

    public static CapSettings read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new BitcapException("config " + file + ": cannot read (" + e.getMessage() + ")");
        }
        String source = "config " + file;
        boolean yaml = isYaml(file);
        try {
            // the same tree for both syntaxes, so the same strict key and type checks apply
            ObjectMapper mapper = yaml ? new ObjectMapper(new YAMLFactory()) : new ObjectMapper();
            CapSettings s = new CapSettings();
            s.apply(new StrictJson(source, "", mapper.readTree(text)), file.toAbsolutePath().getParent());
            return s;
        } catch (JsonProcessingException e) {
            String line = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
            String why = e.getOriginalMessage() == null ? "" : e.getOriginalMessage().lines().findFirst().orElse("");
            throw new BitcapException(source + ": not valid " + (yaml ? "YAML" : "JSON") + " (" + why + line + ")");
        }
    }

    /** A {@code .yaml} or {@code .yml} file is read as YAML; anything else as JSON. */
    static boolean isYaml(Path file) {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        return name.endsWith(".yaml") || name.endsWith(".yml");
    }

    private void apply(StrictJson j, Path dir) {
        j.allowOnly(Set.of("model", "tokenizer", "eval_text", "out", "metrics_mode", "workload", "matrix", "configurations", "hardware",
                "cost", "accuracy", "calibration", "tasks"));
        model = path(j, "model", dir, model);
        tokenizer = path(j, "tokenizer", dir, tokenizer);
        evalText = path(j, "eval_text", dir, evalText);
        out = path(j, "out", dir, out);
        if (j.has("metrics_mode")) mode = CountingMode.byName(j.string("metrics_mode", null));
        StrictJson w = j.object("workload");
        if (w != null) {
            w.allowOnly(Set.of("input_length", "output_length", "batch_sizes", "rounds", "prompts_file", "seed"));
            inputLength = w.integer("input_length", inputLength);
            outputLength = w.integer("output_length", outputLength);
            batchSizes = w.integers("batch_sizes", batchSizes);
            rounds = w.integer("rounds", rounds);
            promptsFile = path(w, "prompts_file", dir, promptsFile);
            seed = w.integer("seed", (int) seed);
        }
        StrictJson m = j.object("matrix");
        if (m != null) {
            m.allowOnly(Set.of("weights", "kv", "kv_with_f32_weights", "devices"));
            if (m.has("weights")) {
                List<Weights> list = new ArrayList<>();
                for (StrictJson e : m.objects("weights")) list.add(weights(e));
                weights = list;
            }
            kv = m.strings("kv", kv);
            kvWithF32Weights = m.strings("kv_with_f32_weights", kvWithF32Weights);
            devices = m.strings("devices", devices);
        }
        for (StrictJson e : j.objects("configurations")) {
            e.allowOnly(Set.of("format", "method", "group", "nm", "kv", "device"));
            Weights wt = weights(e);
            extraConfigurations.add(new CapConfiguration(wt.format(), wt.method(), wt.group(), wt.nm(), e.string("kv", "f32"), e.string("device", "cpu")));
        }
        StrictJson h = j.object("hardware");
        if (h != null) {
            h.allowOnly(Set.of("device", "catalog", "compute_dtype", "probe"));
            hardware = h.string("device", hardware);
            catalog = path(h, "catalog", dir, catalog);
            computeDtype = h.string("compute_dtype", computeDtype);
            probe = h.bool("probe", probe);
        }
        StrictJson c = j.object("cost");
        if (c != null) {
            c.allowOnly(Set.of("formula", "lifetime_years", "utilisation", "usd_per_kwh", "devices"));
            if (c.has("formula")) costFormula = CostModel.Formula.byName(c.string("formula", null));
            lifetimeYears = c.number("lifetime_years", lifetimeYears);
            utilisation = c.number("utilisation", utilisation);
            usdPerKwh = c.number("usd_per_kwh", usdPerKwh);
            costDevices = c.integer("devices", costDevices);
        }
        StrictJson a = j.object("accuracy");
        if (a != null) {
            a.allowOnly(Set.of("windows", "context"));
            accuracyWindows = a.integer("windows", accuracyWindows);
            accuracyContext = a.integer("context", accuracyContext);
        }
        StrictJson t = j.object("tasks");
        if (t != null) {
            t.allowOnly(Set.of("file", "max_tokens"));
            tasksFile = path(t, "file", dir, tasksFile);
            taskMaxTokens = t.integer("max_tokens", taskMaxTokens);
        }
        StrictJson cal = j.object("calibration");
        if (cal != null) {
            cal.allowOnly(Set.of("text", "samples", "seq_len"));
            calibText = path(cal, "text", dir, calibText);
            calibSamples = cal.integer("samples", calibSamples);
            calibSeqLen = cal.integer("seq_len", calibSeqLen);
        }
    }

    private static Weights weights(StrictJson e) {
        e.allowOnly(Set.of("format", "method", "group", "nm", "kv", "device"));
        String format = e.string("format", null);
        if (format == null) throw new BitcapException(e.source() + ": '" + e.path() + "' has no 'format'");
        boolean f32 = format.equals("f32");
        return new Weights(format, e.string("method", f32 ? "" : "rtn"), e.integer("group", f32 ? 0 : 128), e.string("nm", null));
    }

    private static Path path(StrictJson j, String key, Path dir, Path fallback) {
        String s = j.string(key, null);
        return s == null ? fallback : dir.resolve(s);
    }

    /** Parses a flag's weight choice {@code format[:method[:group[:nm]]]}, e.g. {@code int4-asym:gptq:128}. */
    public static Weights parseWeights(String spec) {
        String[] p = spec.split(":", -1);
        if (p[0].isEmpty() || p.length > 5) throw new BitcapException("--weights '" + spec + "': expected format[:method[:group[:N:M]]]");
        boolean f32 = p[0].equals("f32");
        int group = f32 ? 0 : 128;
        if (p.length > 2) {
            try {
                group = Integer.parseInt(p[2]);
            } catch (NumberFormatException e) {
                throw new BitcapException("--weights '" + spec + "': group '" + p[2] + "' is not an integer");
            }
        }
        String nm = p.length == 5 ? p[3] + ":" + p[4] : null;
        if (p.length == 4) throw new BitcapException("--weights '" + spec + "': N:M needs both numbers, e.g. binary:stbllm:128:4:8");
        return new Weights(p[0], p.length > 1 ? p[1] : (f32 ? "" : "rtn"), group, nm);
    }
}
