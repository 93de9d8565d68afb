package dev.bitcap.cli;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Generator;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.SamplerSettings;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a prompt, streaming it as it comes.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin ModelOptions modelOptions;
    @Mixin ParallelOptions parallelOptions;

    @Option(names = "--prompt", defaultValue = "", description = "prompt text (default: empty, i.e. start from BOS)")
    String prompt;

    @Option(names = "--temperature", defaultValue = "0.8", description = "0 is greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens, 0 = all (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "nucleus sampling threshold (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-tokens", defaultValue = "256", description = "new tokens at most (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--batch", defaultValue = "1", description = "decode this many copies of the prompt together, seeds seed..seed+N-1 (default: ${DEFAULT-VALUE})")
    int batch;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (batch < 1) throw new BitcapException("--batch must be >= 1, got " + batch);
        PrintWriter out = spec.commandLine().getOut();
        try (LoadedModel model = modelOptions.load();
             Backend backend = modelOptions.backend(model, new PassRecorder(), parallelOptions)) {
            Tokenizer tok = ModelOptions.requireTokenizer(model);
            int[] ids = promptIds(model, tok, prompt);
            Set<Integer> stops = new HashSet<>(tok.stopIds());
            if (model.config().eosId() >= 0) stops.add(model.config().eosId());
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < batch; i++) prompts.add(ids);
            var decoder = tok.streamDecoder();
            for (int id : ids) decoder.next(id); // sets the decoder's state; the prompt is echoed as the user wrote it
            out.print(prompt);
            out.flush();
            long start = System.nanoTime();
            var result = new Generator(backend, model.config().maxContext()).generate(prompts, maxTokens,
                    new SamplerSettings(temperature, topK, topP, seed), stops, (s, token) -> {
                        if (batch == 1) {
                            out.print(decoder.next(token));
                            out.flush();
                        }
                    });
            if (batch == 1) {
                out.println(decoder.flush());
            } else {
                out.println();
                for (int i = 0; i < batch; i++) {
                    out.println("--- sequence " + i + " ---");
                    out.println(prompt + tok.decode(result.tokens().get(i), true));
                }
            }
            long generated = result.tokens().stream().mapToLong(t -> t.length).sum();
            double secs = (System.nanoTime() - start) / 1e9;
            spec.commandLine().getErr().printf("[%d tokens in %.2f s, %.1f tokens/s, stop: %s]%n", generated, secs, generated / secs,
                    result.reasons().get(0).name().toLowerCase());
        }
        return 0;
    }

    /** The prompt's ids with BOS where the tokenizer adds one; an empty prompt is just BOS. */
    static int[] promptIds(LoadedModel model, Tokenizer tok, String text) {
        int[] ids = tok.encode(text, true);
        if (ids.length == 0) {
            int bos = tok.bosId() >= 0 ? tok.bosId() : model.config().bosId();
            if (bos < 0) throw new BitcapException("the prompt is empty and the model has no BOS token to start from; give --prompt");
            ids = new int[] {bos};
        }
        return ids;
    }
}
