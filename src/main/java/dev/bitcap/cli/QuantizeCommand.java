package dev.bitcap.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.compress.CalibrationSet;
import dev.bitcap.compress.ModelQuantizer;
import dev.bitcap.compress.QuantMethod;
import dev.bitcap.format.GgufFile;
import dev.bitcap.format.GgufWriter;
import dev.bitcap.format.HfConfig;
import dev.bitcap.format.QuantizationConfig;
import dev.bitcap.model.HfConfigWriter;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.QuantizedCheckpointWriter;
import dev.bitcap.model.synth.BuiltinModel;
import dev.bitcap.quant.BinaryLayout;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize a model's weight matrices and write a Hugging Face-style folder with the packed weights.")
final class QuantizeCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;

    @Option(names = "--list", description = "list the formats and methods with their bits per weight, and exit")
    boolean list;

    @Option(names = "--format", description = "weight format (see --list; default: int4-asym, or binary for --method billm/stbllm)")
    String format;

    @Option(names = "--group", defaultValue = "128", description = "input columns per group: a multiple of 32, or -1 for per channel (default: ${DEFAULT-VALUE})")
    int group;

    @Option(names = "--method", defaultValue = "rtn", description = "rtn, clip, gptq, awq, billm or stbllm (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--nm", paramLabel = "N:8", description = "binary only: keep N of every 8 consecutive input columns (4:8, 5:8 or 6:8); stbllm allocates N per layer around it")
    String nm;

    @Option(names = "--calib", paramLabel = "FILE", description = "calibration text (clip, gptq, awq, billm, stbllm); use a different text from the one you evaluate on")
    Path calib;

    @Option(names = "--samples", defaultValue = "128", description = "calibration windows (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--seq-len", defaultValue = "512", description = "tokens per calibration window, at most the model's context (default: ${DEFAULT-VALUE})")
    int seqLen;

    @Option(names = "--seed", defaultValue = "0", description = "seed for picking calibration windows (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--skip", split = ",", defaultValue = "lm_head", description = "keep matrices whose name contains one of these (default: ${DEFAULT-VALUE}); routers are always kept")
    List<String> skip;

    @Option(names = "--out", paramLabel = "DIR", description = "output folder")
    Path out;

    @Option(names = "--force", description = "replace an existing output folder")
    boolean force;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        if (list) {
            printList(o);
            return 0;
        }
        if (out == null) throw new BitcapException("--out DIR is required");
        QuantMethod m = QuantMethod.byName(method);
        String formatName = format != null ? format : m.binary() ? BinaryLayout.NAME : "int4-asym";
        boolean binary = formatName.equals(BinaryLayout.NAME);
        QuantFormat f = binary ? null : QuantFormats.byName(formatName);
        if (binary && !m.binary()) throw new BitcapException("format binary is made by --method billm or stbllm, not " + m.cliName());
        if (!binary && m.binary()) throw new BitcapException("--method " + m.cliName() + " makes binary weights; use --format binary or leave --format out");
        if (nm != null && !binary) throw new BitcapException("--nm applies to the binary format only (--method billm or stbllm)");
        int keptPer8 = nm == null ? BinaryLayout.M : parseNm(nm);
        if (binary && group != BinaryLayout.BLOCK) throw new BitcapException("--group does not apply to binary (blocks of 128 columns)");
        if (m.needsCalibration() && calib == null) throw new BitcapException("--method " + method + " needs --calib FILE (calibration text)");
        if (!m.needsCalibration() && calib != null) throw new BitcapException("--method rtn uses no calibration; drop --calib");
        if (group != -1 && (group <= 0 || group % 32 != 0)) {
            throw new BitcapException("--group " + group + " is not valid: use a positive multiple of 32, or -1 for per channel");
        }
        if (Files.exists(out) && !force) throw new BitcapException("output " + out + " exists; pass --force to replace it");
        String calibText = null;
        if (calib != null) {
            if (!Files.isRegularFile(calib)) throw new BitcapException("calibration file " + calib + " does not exist");
            calibText = Files.readString(calib, StandardCharsets.UTF_8);
        }
        Path modelPath = modelOptions.model != null ? modelOptions.model : BuiltinModel.path();
        LoadedModel source = modelOptions.load();
        CalibrationSet set = null;
        if (calibText != null) {
            int len = Math.min(seqLen, source.config().maxContext());
            set = CalibrationSet.fromText(ModelOptions.requireTokenizer(source), calibText, calib.toString(), samples, len, seed);
        }
        Progress progress = new Progress("quantizing matrices", 1);
        ModelQuantizer.Result r;
        try {
            r = ModelQuantizer.quantize(source, new ModelQuantizer.Options(f, binary ? BinaryLayout.BLOCK : group, m, skip, keptPer8), set,
                    (name, done, total) -> progress.update(done, total));
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
        try (LoadedModel q = r.model()) {
            ObjectNode calibJson = null;
            if (set != null) {
                calibJson = JsonNodeFactory.instance.objectNode().put("text", calib.getFileName().toString()).put("samples", samples)
                        .put("seq_len", set.seqLen()).put("seed", seed);
            }
            QuantizationConfig qc;
            if (binary) {
                ObjectNode details = JsonNodeFactory.instance.objectNode().put("nm", nm == null ? "dense" : nm)
                        .put("regions", m == QuantMethod.STBLLM ? 3 : 2);
                if (r.keptPer8ByLayer() != null) {
                    var arr = details.putArray("kept_per_8_by_layer");
                    for (int k : r.keptPer8ByLayer()) arr.add(k);
                }
                qc = new QuantizationConfig(null, BinaryLayout.BLOCK, m.cliName(), r.bitsPerWeight(), r.skipped(), calibJson, details);
            } else {
                qc = new QuantizationConfig(f, group, m.cliName(), r.bitsPerWeight(), r.skipped(), calibJson);
            }
            ObjectNode base = Files.isDirectory(modelPath) ? (ObjectNode) HfConfig.read(modelPath.resolve("config.json"))
                    : HfConfigWriter.toJson(source.config());
            List<QuantizedCheckpointWriter.ExtraFile> files = new ArrayList<>();
            ModelLoader.tokenizerFiles(modelPath, modelOptions.tokenizer, source.config())
                    .forEach((path, name) -> files.add(new QuantizedCheckpointWriter.ExtraFile(path, name)));
            boolean gguf = modelPath.toString().endsWith(".gguf") && modelOptions.tokenizer == null;
            QuantizedCheckpointWriter.write(q.config(), q.weights(), base, qc, files,
                    gguf ? dir -> writeGgufTokenizer(modelPath, dir.resolve(ModelLoader.GGUF_TOKENIZER)) : null, out, force);
            String layout = binary ? (nm == null ? " dense" : " " + nm) + (r.keptPer8ByLayer() == null ? "" : " (per layer " + Arrays.toString(r.keptPer8ByLayer()) + ")")
                    : " g" + (group == -1 ? "-channel" : String.valueOf(group));
            o.printf("wrote %s: %d matrices in %s%s by %s (%.3f bits per weight, %,d weights), %d kept as stored, in %.1f s%n", out,
                    r.quantized().size(), formatName, layout, m.cliName(), r.bitsPerWeight(), r.quantizedWeights(), r.skipped().size(), r.seconds());
        }
        return 0;
    }

    /** "N:8" with N in 4..6, the N:M patterns the methods are defined for. */
    static int parseNm(String nm) {
        return switch (nm) {
            case "4:8" -> 4;
            case "5:8" -> 5;
            case "6:8" -> 6;
            default -> throw new BitcapException("--nm " + nm + " is not supported: use 4:8, 5:8 or 6:8 (N kept of every 8)");
        };
    }

    /** A GGUF source's tokenizer travels as a GGUF that holds only the tokenizer metadata. */
    private static void writeGgufTokenizer(Path gguf, Path target) {
        try (GgufFile g = GgufFile.open(gguf)) {
            Map<String, Object> meta = new LinkedHashMap<>();
            meta.put("general.architecture", g.getString("general.architecture"));
            g.metadata().forEach((k, v) -> {
                if (k.startsWith("tokenizer.")) meta.put(k, v);
            });
            GgufWriter.write(target, meta, Map.of());
        }
    }

    private static void printList(PrintWriter o) {
        o.println("formats (bits per weight for a 4096-wide row, fp16 parameters counted):");
        o.printf("  %-10s %5s %7s %7s %7s %7s %9s%n", "name", "bits", "params", "g32", "g64", "g128", "channel");
        for (QuantFormat f : QuantFormats.all()) {
            o.printf("  %-10s %5d %7d %7.3f %7.3f %7.3f %9.3f%n", f.name(), f.codeBits(), f.paramCount(),
                    QuantFormats.bitsPerWeight(f, 4096, 32), QuantFormats.bitsPerWeight(f, 4096, 64),
                    QuantFormats.bitsPerWeight(f, 4096, 128), QuantFormats.bitsPerWeight(f, 4096, -1));
        }
        o.printf("  %-10s %5s %7s   blocks of %d columns; a 4096x4096 matrix: billm %.3f, billm --nm N:8 %.3f, stbllm %.3f (any --nm)%n",
                BinaryLayout.NAME, "1", "7-9", BinaryLayout.BLOCK, BinaryLayout.bitsPerWeight(4096, 4096, 8, 2),
                BinaryLayout.bitsPerWeight(4096, 4096, 4, 2), BinaryLayout.bitsPerWeight(4096, 4096, 4, 3));
        o.println("methods: " + String.join(", ", Arrays.stream(QuantMethod.values()).map(QuantMethod::cliName).toList())
                + " (clip, gptq, awq, billm and stbllm need --calib; billm and stbllm make the binary format, --nm 4:8|5:8|6:8 for N:M)");
    }
}
