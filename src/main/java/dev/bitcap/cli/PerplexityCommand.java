package dev.bitcap.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Backends;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.eval.EvalWindows;
import dev.bitcap.eval.KlDivergence;
import dev.bitcap.eval.Perplexity;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import java.io.IOException;
import java.io.PrintWriter;
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
        description = {"Perplexity on a text file: tokenised once, cut into non-overlapping windows of --ctx tokens.",
                "With --reference, both models run over the same windows and the mean KL(reference || model) of the "
                        + "next-token distribution and the top-1 agreement are reported too."})
final class PerplexityCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text file")
    Path text;

    @Option(names = "--ctx", defaultValue = "512", description = "window length in tokens (default: ${DEFAULT-VALUE})")
    int ctx;

    @Option(names = "--max-windows", defaultValue = "0", description = "evaluate at most this many windows, 0 = all (default: ${DEFAULT-VALUE})")
    int maxWindows;

    @Option(names = "--max-tokens", defaultValue = "0", paramLabel = "N",
            description = "evaluate only the first N tokens of the text (whole windows), 0 = all (default: ${DEFAULT-VALUE})")
    long maxTokens;

    @Option(names = "--reference", paramLabel = "PATH",
            description = {"reference model (e.g. the full-precision one) to compare against: adds mean KL divergence and top-1 agreement.",
                    "It runs on the same --device with dense attention and an f32 KV cache, and loads its own tokenizer (if any)."})
    Path reference;

    @Option(names = "--json", description = "print {\"perplexity\": X, \"tokens\": N, ...} (with --reference also reference_perplexity, mean_kl, top1_agreement)")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(text)) throw new BitcapException("text file " + text + " does not exist");
        if (maxWindows < 0) throw new BitcapException("--max-windows must be >= 0, got " + maxWindows);
        if (maxTokens < 0) throw new BitcapException("--max-tokens must be >= 0, got " + maxTokens);
        if (reference != null && !Files.exists(reference)) throw new BitcapException("reference model " + reference + " does not exist");
        String content = Files.readString(text, StandardCharsets.UTF_8);
        try (LoadedModel model = modelOptions.load(); Backend backend = modelOptions.backend(model, new PassRecorder())) {
            requireContext(model, "the model's");
            int[] ids = ModelOptions.requireTokenizer(model).encode(content, true);
            EvalWindows windows = EvalWindows.of(ids, ctx, maxTokens, maxWindows);
            Progress progress = new Progress("perplexity windows", windows.count());
            long start = System.nanoTime();
            if (reference == null) {
                Perplexity.Result r = Perplexity.evaluate(backend, windows, progress::update);
                print(r, null, windows, ids.length, (System.nanoTime() - start) / 1e9);
                return 0;
            }
            try (LoadedModel ref = ModelLoader.load(reference, null);
                 Backend refBackend = Backends.create(modelOptions.device, ref, new PassRecorder())) {
                checkComparable(model, ref, content, ids);
                KlDivergence.Result r = KlDivergence.evaluate(refBackend, backend, windows, progress::update);
                print(r.model(), r, windows, ids.length, (System.nanoTime() - start) / 1e9);
            }
        }
        return 0;
    }

    private void requireContext(LoadedModel m, String whose) {
        if (ctx > m.config().maxContext()) {
            throw new BitcapException("--ctx " + ctx + " exceeds " + whose + " context of " + m.config().maxContext() + " tokens");
        }
    }

    /** Both models must predict over the same vocabulary from the same token ids. */
    private void checkComparable(LoadedModel model, LoadedModel ref, String content, int[] ids) {
        if (ref.config().vocabSize() != model.config().vocabSize()) {
            throw new BitcapException("reference " + reference + " has a vocabulary of " + ref.config().vocabSize() + " tokens, the model "
                    + modelOptions.describe() + " " + model.config().vocabSize() + ": KL divergence needs the same vocabulary");
        }
        requireContext(ref, "the reference's");
        if (ref.tokenizer() != null && !java.util.Arrays.equals(ref.tokenizer().encode(content, true), ids)) {
            throw new BitcapException("reference " + reference + " tokenises " + text + " differently from the model " + modelOptions.describe());
        }
    }

    private void print(Perplexity.Result r, KlDivergence.Result kl, EvalWindows windows, int textTokens, double secs) throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("perplexity", r.perplexity());
            if (kl != null) {
                m.put("reference_perplexity", kl.reference().perplexity());
                m.put("mean_kl", kl.meanKl());
                m.put("top1_agreement", kl.top1Agreement());
            }
            m.put("tokens", r.tokens());
            m.put("windows", r.windows());
            m.put("ctx", ctx);
            m.put("evaluated_tokens", windows.tokens());
            m.put("text_tokens", textTokens);
            m.put("attention", modelOptions.attention.describe());
            if (modelOptions.attention.installed() != null) m.put("block_density", modelOptions.attention.installed().achievedDensity());
            o.println(new ObjectMapper().writeValueAsString(m));
            return;
        }
        String over = String.format("over %d predicted tokens (%d windows of %d: the first %d of the text's %d tokens) in %.1f s",
                r.tokens(), r.windows(), ctx, windows.tokens(), textTokens, secs);
        if (kl == null) {
            o.printf("perplexity %.4f %s%n", r.perplexity(), over);
        } else {
            o.printf("perplexity %.4f (reference %.4f), mean KL(reference || model) %.6f nats, top-1 agreement %.4f, %s%n",
                    r.perplexity(), kl.reference().perplexity(), kl.meanKl(), kl.top1Agreement(), over);
        }
        if (modelOptions.attention.installed() != null) {
            o.printf("attention: %s; visited %.4f of the causal key blocks%n", modelOptions.attention.describe(),
                    modelOptions.attention.installed().achievedDensity());
        }
    }
}
