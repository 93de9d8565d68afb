package dev.bitcap.cap;

import dev.bitcap.BitcapException;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.Generator;
import dev.bitcap.engine.SamplerSettings;
import dev.bitcap.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs exact-match tasks on a backend: each prompt (with the vocabulary's BOS) is continued greedily for the task's
 * token budget or until a stop token, one task at a time so no batching changes a result; the answer is extracted
 * from the generated text and compared with the expected one.
 */
public final class ExactMatchScorer {
    /** What one task produced. */
    public record Outcome(ExactMatchTasks.Task task, String output, String extracted, boolean correct) {}

    public record Score(List<Outcome> outcomes) {
        public int correct() {
            return (int) outcomes.stream().filter(Outcome::correct).count();
        }

        public double accuracy() {
            return outcomes.isEmpty() ? Double.NaN : correct() / (double) outcomes.size();
        }
    }

    private ExactMatchScorer() {}

    public static Score score(ExactMatchTasks tasks, Backend backend, Tokenizer tokenizer, int maxContext) {
        Generator generator = new Generator(backend, maxContext);
        List<Outcome> outcomes = new ArrayList<>();
        for (ExactMatchTasks.Task t : tasks.tasks()) {
            int[] prompt = tokenizer.encode(t.prompt(), true);
            String where = "tasks " + tasks.file() + " line " + t.line();
            if (prompt.length == 0) throw new BitcapException(where + ": the prompt is empty and the vocabulary has no BOS to start from");
            if (prompt.length >= maxContext) {
                throw new BitcapException(where + ": the prompt is " + prompt.length + " tokens, which leaves no room in the context of " + maxContext);
            }
            int[] generated = generator.generate(List.of(prompt), t.maxTokens(), SamplerSettings.GREEDY, tokenizer.stopIds(), (s, id) -> {}).tokens().get(0);
            String output = tokenizer.decode(generated, true);
            String extracted = t.extract().extract(output);
            outcomes.add(new Outcome(t, output, extracted, t.extract().matches(extracted, t.answer())));
        }
        return new Score(outcomes);
    }
}
