package dev.bitcap.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.BitcapException;
import dev.bitcap.format.HfConfig;
import dev.bitcap.model.HfConfigParser;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.TensorInventory;
import dev.bitcap.model.synth.SyntheticCheckpointWriter;
import dev.bitcap.model.synth.SyntheticPresets;
import dev.bitcap.model.synth.SyntheticQuantizedWriter;
import dev.bitcap.quant.QuantFormat;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Write a deterministic random-weight checkpoint at a real model's shape.",
                "Presets: tiny-moe (the built-in default), tiny-llama, tiny-mixtral, tiny-qwen2moe, llama-3.2-1b, llama-3.1-8b,",
                "mixtral-8x7b, qwen1.5-moe-a2.7b, qwen3-30b-a3b."})
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--arch", description = "llama, mixtral, qwen2_moe, qwen3_moe, ... (checked against the preset; sets model_type of a --config)")
    String arch;

    @Option(names = "--preset", description = "a preset name")
    String preset;

    @Option(names = "--config", paramLabel = "FILE", description = "a Hugging Face config.json to use instead of a preset")
    Path config;

    @Option(names = "--out", required = true, paramLabel = "PATH", description = "output folder (hf) or .gguf file (gguf)")
    Path out;

    @Option(names = "--dtype", defaultValue = "bf16", description = "f32, f16, bf16; with --format gguf also q8_0, q4_0 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--format", defaultValue = "hf", description = "hf (safetensors folder) or gguf (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--quant", paramLabel = "FORMAT", description = {"write the matrices packed in this group format (see quantize --list), "
            + "as `quantize --method rtn` would from the --dtype checkpoint; generated tensor by tensor, the full-precision model is never held"})
    String quant;

    @Option(names = "--group", defaultValue = "128", description = "with --quant: input columns per group, a multiple of 32, or -1 for per channel (default: ${DEFAULT-VALUE})")
    int group;

    @Option(names = "--skip", split = ",", defaultValue = "lm_head", description = "with --quant: keep matrices whose name contains one of these (default: ${DEFAULT-VALUE}); routers are always kept")
    List<String> skip;

    @Option(names = "--seed", defaultValue = "0", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--force", description = "replace an existing output")
    boolean force;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if ((preset == null) == (config == null)) throw new BitcapException("give exactly one of --preset and --config");
        ObjectNode json = preset != null ? SyntheticPresets.config(preset) : (ObjectNode) requireObject(HfConfig.read(config));
        if (arch != null) {
            if (preset != null && !arch.equals(json.path("model_type").asText())) {
                throw new BitcapException("--arch " + arch + " does not match preset " + preset + " (" + json.path("model_type").asText() + ")");
            }
            json.put("model_type", arch);
        }
        ModelConfig cfg = HfConfigParser.parse(json, preset != null ? "preset " + preset : config.toString());
        DType type = switch (dtype.toLowerCase()) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            case "bf16" -> DType.BF16;
            case "q8_0" -> DType.Q8_0;
            case "q4_0" -> DType.Q4_0;
            default -> throw new BitcapException("unknown --dtype '" + dtype + "' (valid: f32, f16, bf16, q8_0, q4_0)");
        };
        if (type.isBlockQuantized() && cfg.hiddenSize() % 32 != 0) {
            throw new BitcapException("--dtype " + dtype + " needs hidden and intermediate sizes divisible by 32");
        }
        if (!force && java.nio.file.Files.exists(out)) throw new BitcapException(out + " exists; pass --force to replace it");
        if (quant != null && !format.equals("hf")) throw new BitcapException("--quant writes a Hugging Face-style folder; drop --format " + format);
        if (quant == null && (group != 128 || !skip.equals(List.of("lm_head")))) throw new BitcapException("--group and --skip apply with --quant only");
        QuantFormat qf = quant == null ? null : QuantFormats.byName(quant);
        long total = TensorInventory.of(cfg).stream().mapToLong(e -> Tensor.elementCount(e.shape())).sum();
        Progress progress = new Progress("writing weights", total);
        long start = System.nanoTime();
        switch (format) {
            case "hf" -> {
                if (qf != null) SyntheticQuantizedWriter.write(json, cfg, type, qf, group, skip, seed, out, force, progress::update);
                else SyntheticCheckpointWriter.writeHf(json, cfg, type, seed, out, force, progress::update);
            }
            case "gguf" -> SyntheticCheckpointWriter.writeGguf(cfg, type, seed, out, progress::update);
            default -> throw new BitcapException("unknown --format '" + format + "' (valid: hf, gguf)");
        }
        String stored = qf == null ? type.name().toLowerCase()
                : qf.name() + " g" + (group == -1 ? "-channel" : String.valueOf(group)) + " (rtn from " + type.name().toLowerCase() + ")";
        spec.commandLine().getOut().printf("wrote %s: %s, %,d parameters, %s, in %.1f s%n", out, cfg.family().hfName(), total,
                stored, (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private static com.fasterxml.jackson.databind.JsonNode requireObject(com.fasterxml.jackson.databind.JsonNode n) {
        if (!n.isObject()) throw new BitcapException("--config must hold a JSON object");
        return n;
    }
}
