package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Ops;
import dev.bitcap.testing.SharedData;
import dev.bitcap.testing.SyntheticFixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Greedy decode through {@link Backend#forwardGreedy}: its default is forward then Ops.argmax of each sequence's row,
 * and Generator's greedy tokens are those of the loop it replaced (forward, then the argmax on the host).
 */
class GreedyDecodeTest {
    @TempDir static Path dir;
    private static Path tinyLlama, tinyQwen2Moe;

    @BeforeAll
    static void writeModels() {
        tinyLlama = SyntheticFixtures.hf("tiny-llama", DType.F32, dir);
        tinyQwen2Moe = SyntheticFixtures.hf("tiny-qwen2moe", DType.F32, dir);
    }

    private static final List<int[]> PROMPTS = List.of(new int[] {256, 5, 6, 7, 8, 9}, new int[] {256, 100}, new int[] {256, 3, 4, 300});

    @Test
    void defaultForwardGreedyIsForwardThenArgmaxOfEachSequence() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null)) {
            forwardGreedyMatchesForward(m, PROMPTS, 8);
        }
    }

    @Test
    void defaultForwardGreedyOnStories260k() {
        Path bin = SharedData.require("models/stories260K.bin");
        try (LoadedModel m = ModelLoader.load(bin, null)) {
            forwardGreedyMatchesForward(m, List.of(new int[] {1}, new int[] {1, 403, 407, 261}, new int[] {1, 378, 77}), 16);
        }
    }

    /** Two backends fed the same tokens: forwardGreedy's ids equal argmax of forward's rows, pass after pass, same records. */
    private static void forwardGreedyMatchesForward(LoadedModel m, List<int[]> prompts, int steps) {
        PassRecorder hostRecords = new PassRecorder(), greedyRecords = new PassRecorder();
        try (CpuBackend host = new CpuBackend(m, hostRecords); CpuBackend greedy = new CpuBackend(m, greedyRecords)) {
            List<Sequence> hostSeqs = new ArrayList<>(), greedySeqs = new ArrayList<>();
            for (int[] p : prompts) {
                hostSeqs.add(host.newSequence(p.length + steps));
                greedySeqs.add(greedy.newSequence(p.length + steps));
            }
            List<int[]> tokens = prompts;
            for (int step = 0; step <= steps; step++) {
                float[] logits = host.forward(hostSeqs, tokens, false);
                int vocab = m.config().vocabSize();
                int[] want = new int[prompts.size()];
                for (int s = 0; s < want.length; s++) want[s] = Ops.argmax(logits, s * vocab, vocab);
                int[] got = greedy.forwardGreedy(greedySeqs, tokens);
                assertArrayEquals(want, got, "pass " + step);
                for (int s = 0; s < want.length; s++) assertEquals(hostSeqs.get(s).length(), greedySeqs.get(s).length(), "sequence " + s);
                tokens = new ArrayList<>();
                for (int t : got) tokens.add(new int[] {t});
            }
        }
        assertEquals(steps + 1, greedyRecords.records().size(), "every pass recorded");
        for (int i = 0; i <= steps; i++) {
            PassRecord a = hostRecords.records().get(i), b = greedyRecords.records().get(i);
            assertEquals(a.mode(), b.mode());
            assertEquals(a.tokens(), b.tokens());
            assertArrayEquals(a.contextLengths(), b.contextLengths());
        }
    }

    @Test
    void generatorGreedyGivesTheTokensOfTheHostArgmaxLoop() {
        try (LoadedModel m = ModelLoader.load(tinyQwen2Moe, null)) {
            int[][] want;
            try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                want = argmaxLoop(b, m.config().vocabSize(), PROMPTS, 10);
            }
            for (SamplerSettings greedy : List.of(SamplerSettings.GREEDY, new SamplerSettings(0, 5, 0.5f, 99))) {
                try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                    List<int[]> got = new Generator(b, 1024).generate(PROMPTS, 10, greedy, Set.of(), (s, t) -> {}).tokens();
                    for (int s = 0; s < PROMPTS.size(); s++) assertArrayEquals(want[s], got.get(s), greedy + " sequence " + s);
                }
            }
        }
    }

    @Test
    void generatorStopsAtAStopTokenChosenGreedily() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null)) {
            int[] free;
            try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                free = argmaxLoop(b, m.config().vocabSize(), List.of(PROMPTS.get(0)), 10)[0];
            }
            int stop = free[4], at = 0;
            while (free[at] != stop) at++;
            try (CpuBackend b = new CpuBackend(m, PassRecorder.NONE)) {
                var r = new Generator(b, 1024).generate(List.of(PROMPTS.get(0)), 10, SamplerSettings.GREEDY, Set.of(stop), (s, t) -> {});
                assertArrayEquals(Arrays.copyOf(free, at), r.tokens().get(0));
                assertEquals(Generator.StopReason.STOP_TOKEN, r.reasons().get(0));
            }
        }
    }

    @Test
    void generatorAsksTheBackendForGreedyTokensOnlyWhenGreedy() {
        try (LoadedModel m = ModelLoader.load(tinyLlama, null)) {
            Counting greedy = new Counting(new CpuBackend(m, PassRecorder.NONE));
            try (greedy) {
                new Generator(greedy, 1024).generate(PROMPTS, 5, SamplerSettings.GREEDY, Set.of(), (s, t) -> {});
            }
            assertEquals(5, greedy.greedyPasses, "the prompts' pass and four decode passes");
            assertEquals(0, greedy.logitPasses);
            Counting sampled = new Counting(new CpuBackend(m, PassRecorder.NONE));
            try (sampled) {
                new Generator(sampled, 1024).generate(PROMPTS, 5, new SamplerSettings(0.8f, 0, 1, 3), Set.of(), (s, t) -> {});
            }
            assertEquals(0, sampled.greedyPasses);
            assertEquals(5, sampled.logitPasses, "sampling draws from the logits on the host");
        }
    }

    /** The greedy loop Generator ran before forwardGreedy: forward, then Ops.argmax of each row on the host. */
    private static int[][] argmaxLoop(Backend b, int vocab, List<int[]> prompts, int count) {
        List<Sequence> seqs = new ArrayList<>();
        for (int[] p : prompts) seqs.add(b.newSequence(p.length + count));
        int[][] out = new int[prompts.size()][count];
        float[] logits = b.forward(seqs, prompts, false);
        for (int i = 0; i < count; i++) {
            List<int[]> next = new ArrayList<>();
            for (int s = 0; s < seqs.size(); s++) {
                out[s][i] = Ops.argmax(logits, s * vocab, vocab);
                next.add(new int[] {out[s][i]});
            }
            if (i + 1 < count) logits = b.forward(seqs, next, false);
        }
        return out;
    }

    /** Counts the passes that return logits and those that return greedy tokens. */
    private static final class Counting implements Backend {
        private final Backend inner;
        int logitPasses, greedyPasses;

        Counting(Backend inner) {
            this.inner = inner;
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public Sequence newSequence(int capacity) {
            return inner.newSequence(capacity);
        }

        @Override
        public float[] forward(List<Sequence> sequences, List<int[]> tokens, boolean allLogits) {
            logitPasses++;
            return inner.forward(sequences, tokens, allLogits);
        }

        @Override
        public int[] forwardGreedy(List<Sequence> sequences, List<int[]> tokens) {
            greedyPasses++;
            return inner.forwardGreedy(sequences, tokens);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
