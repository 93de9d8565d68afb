package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.engine.WeightTraffic;
import dev.bitcap.kv.KvSpec;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Architecture, parameter counts, bytes by dtype, and active parameters per token for MoE models.")
final class InspectCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;

    @Option(names = "--json", description = "print the same as JSON")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel m = modelOptions.load()) {
            ModelConfig c = m.config();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("model", modelOptions.describe());
            info.put("format", m.format());
            info.put("architecture", c.family().hfName());
            info.put("layers", c.layers());
            info.put("hidden_size", c.hiddenSize());
            info.put("heads", c.heads());
            info.put("kv_heads", c.kvHeads());
            info.put("head_dim", c.headDim());
            info.put("intermediate_size", c.intermediateSize());
            info.put("vocab_size", c.vocabSize());
            info.put("context", c.maxContext());
            info.put("rope", c.ropeStyle().name().toLowerCase() + ", theta " + c.ropeTheta()
                    + (c.ropeScaling().type() == dev.bitcap.model.RopeScaling.Type.NONE ? "" : ", scaling " + c.ropeScaling().type().name().toLowerCase()));
            info.put("tied_embeddings", c.tiedEmbeddings());
            if (c.isMoe()) {
                info.put("experts", c.experts());
                info.put("experts_per_token", c.expertsPerToken());
                info.put("expert_intermediate_size", c.moeIntermediate());
                info.put("shared_expert_intermediate_size", c.sharedExpertIntermediate());
            }
            info.put("parameters", c.parameterCount());
            info.put("active_parameters_per_token", c.activeParameterCount());
            Map<String, Long> bytes = new LinkedHashMap<>();
            bytes.putAll(m.matrixBytesByStorage());
            info.put("matrix_bytes_by_dtype", bytes);
            // stored bits per weight of each storage kind (codes, parameters and masks included)
            Map<String, Long> weights = new LinkedHashMap<>();
            Map<dev.bitcap.tensor.WeightMatrix, Boolean> seen = new java.util.IdentityHashMap<>();
            m.forEachMatrix(t -> {
                if (seen.put(t, Boolean.TRUE) == null) weights.merge(t.storage(), t.rows() * t.cols(), Long::sum);
            });
            Map<String, String> bits = new LinkedHashMap<>();
            bytes.forEach((k, v) -> bits.put(k, String.format("%.3f", 8.0 * v / weights.get(k))));
            info.put("matrix_bits_per_weight_by_dtype", bits);
            KvSpec kv = modelOptions.kvSpec();
            kv.checkHeadDim(c.headDim());
            WeightTraffic kvBytes = new WeightTraffic(m, kv);
            info.put("kv_cache", kv.describe(c.headDim()));
            int block = kv.format().quantized() ? kv.group() : 1; // a whole block of g positions is packed
            info.put("kv_bytes_per_position", kvBytes.kvBytes(block) / block);
            info.put("kv_bytes_at_full_context", kvBytes.kvBytes(c.maxContext()));
            info.put("tokenizer", m.tokenizer() == null ? "none" : m.tokenizer().vocabSize() + " tokens");
            if (json) {
                out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(info));
            } else {
                info.forEach((k, v) -> out.printf("%-32s %s%n", k.replace('_', ' '), format(v)));
            }
        }
        return 0;
    }

    private static String format(Object v) {
        if (v instanceof Long l && l > 10_000) return String.format("%,d (%.3g)", l, (double) l);
        return String.valueOf(v);
    }
}
