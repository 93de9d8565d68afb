package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.eval.Perplexity;
import dev.bitcap.model.LoadedModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = "Perplexity on a text file: tokenised once, cut into non-overlapping windows of --ctx tokens.")
final class PerplexityCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text file")
    Path text;

    @Option(names = "--ctx", defaultValue = "512", description = "window length in tokens (default: ${DEFAULT-VALUE})")
    int ctx;

    @Option(names = "--max-windows", defaultValue = "0", description = "evaluate at most this many windows, 0 = all (default: ${DEFAULT-VALUE})")
    int maxWindows;

    @Option(names = "--json", description = "print {\"perplexity\": X, \"tokens\": N}")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(text)) throw new BitcapException("text file " + text + " does not exist");
        if (maxWindows < 0) throw new BitcapException("--max-windows must be >= 0, got " + maxWindows);
        String content = Files.readString(text, StandardCharsets.UTF_8);
        try (LoadedModel model = modelOptions.load(); Backend backend = modelOptions.backend(model, new PassRecorder())) {
            if (ctx > model.config().maxContext()) {
                throw new BitcapException("--ctx " + ctx + " exceeds the model's context of " + model.config().maxContext() + " tokens");
            }
            int[] ids = ModelOptions.requireTokenizer(model).encode(content, true);
            int windows = maxWindows > 0 ? Math.min(maxWindows, ids.length / ctx) : ids.length / ctx;
            Progress progress = new Progress("perplexity windows", windows);
            long start = System.nanoTime();
            Perplexity.Result r = Perplexity.evaluate(backend, ids, ctx, maxWindows, progress::update);
            double secs = (System.nanoTime() - start) / 1e9;
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("perplexity", r.perplexity());
                m.put("tokens", r.tokens());
                m.put("windows", r.windows());
                m.put("ctx", ctx);
                m.put("attention", modelOptions.attention.describe());
                if (modelOptions.attention.installed() != null) m.put("block_density", modelOptions.attention.installed().achievedDensity());
                spec.commandLine().getOut().println(new ObjectMapper().writeValueAsString(m));
            } else {
                spec.commandLine().getOut().printf("perplexity %.4f over %d predicted tokens (%d windows of %d; %d tokens in the text) in %.1f s%n",
                        r.perplexity(), r.tokens(), r.windows(), ctx, ids.length, secs);
                if (modelOptions.attention.installed() != null) {
                    spec.commandLine().getOut().printf("attention: %s; visited %.4f of the causal key blocks%n",
                            modelOptions.attention.describe(), modelOptions.attention.installed().achievedDensity());
                }
            }
        }
        return 0;
    }
}
