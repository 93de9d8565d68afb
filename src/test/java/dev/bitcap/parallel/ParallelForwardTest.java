package dev.bitcap.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.bitcap.engine.Backend;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.PassRecord;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.Sequence;
import dev.bitcap.model.HfConfigParser;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelConfig;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.synth.SyntheticCheckpointWriter;
import dev.bitcap.model.synth.SyntheticPresets;
import dev.bitcap.tensor.DType;
import dev.bitcap.testing.SharedData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A model split over ranks (threads here, processes in one test) against the same model on one CPU backend: the
 * logits of a prefill and of decode steps, and greedy tokens.
 *
 * <p>Tolerance: under tp the o and down projections are summed per rank and then across ranks, a different order of
 * fp32 additions than one GEMV over the whole row; each reordering changes a sum by a few ulps (~1e-7 relative), and a
 * few layers compound that to well under 1e-5 of the logits' scale. A wrong split (a head, a column block or an
 * expert missing or doubled) moves logits by a sizeable fraction of that scale. Under ep alone the order is kept
 * exactly, so those logits must be bit-identical.
 */
class ParallelForwardTest {
    static final double RELATIVE = 1e-5;
    static final int[] PROMPT = {1, 17, 200, 33, 5, 99, 311, 42, 7, 128, 64};

    @TempDir static Path tmp;

    static Stream<Arguments> fixtures() {
        return Stream.of(
                Arguments.of("tiny-llama", 2, 2, 1),
                Arguments.of("tiny-mixtral", 2, 2, 1),
                Arguments.of("tiny-mixtral", 2, 1, 2),
                Arguments.of("tiny-mixtral", 2, 2, 2),
                Arguments.of("tiny-qwen2moe", 2, 2, 1),
                Arguments.of("tiny-qwen2moe", 2, 1, 2),
                Arguments.of("tiny-qwen3moe", 2, 2, 2),
                Arguments.of("tiny-qwen3moe", 4, 1, 4));
    }

    @ParameterizedTest(name = "{0} ranks {1} tp {2} ep {3}")
    @MethodSource("fixtures")
    void hfFixturesMatchOneProcess(String fixture, int ranks, int tp, int ep) {
        Path dir = SharedData.require("hf-fixtures/" + fixture + "/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null)) {
            compare(model, new ParallelPlan(ranks, tp, ep, ExpertPlacement.CONTIGUOUS), fixture);
        }
    }

    /** Llama-3.1-8B's and Mixtral-8x7B's shapes (GQA 4:1, llama3 RoPE, 8 experts top-2) scaled down to run here. */
    static Path scaledSynth(String preset, String name, int experts) {
        ObjectNode json = SyntheticPresets.config(preset).deepCopy();
        json.put("hidden_size", 128).put("intermediate_size", 256).put("num_hidden_layers", 2).put("num_attention_heads", 8)
                .put("num_key_value_heads", 4).put("head_dim", 16).put("vocab_size", 512).put("max_position_embeddings", 256);
        if (experts > 0) json.put("num_local_experts", experts);
        ModelConfig c = HfConfigParser.parse(json, name);
        Path out = tmp.resolve(name);
        if (!java.nio.file.Files.exists(out)) SyntheticCheckpointWriter.writeHf(json, c, DType.BF16, 3, out, false, n -> {});
        return out;
    }

    static Stream<Arguments> synthetic() {
        return Stream.of(
                Arguments.of("llama-3.1-8b", 2, 2, 1, ExpertPlacement.CONTIGUOUS),
                Arguments.of("llama-3.1-8b", 4, 4, 1, ExpertPlacement.CONTIGUOUS),
                Arguments.of("mixtral-8x7b", 2, 2, 1, ExpertPlacement.CONTIGUOUS),
                Arguments.of("mixtral-8x7b", 4, 4, 1, ExpertPlacement.CONTIGUOUS),
                Arguments.of("mixtral-8x7b", 2, 1, 2, ExpertPlacement.ROUND_ROBIN),
                Arguments.of("mixtral-8x7b", 4, 4, 4, ExpertPlacement.CONTIGUOUS));
    }

    @ParameterizedTest(name = "synthetic {0} ranks {1} tp {2} ep {3} {4}")
    @MethodSource("synthetic")
    void scaledSyntheticModelsMatchOneProcess(String preset, int ranks, int tp, int ep, ExpertPlacement placement) {
        Path path = scaledSynth(preset, preset + "-scaled", preset.startsWith("mixtral") ? 8 : 0);
        try (LoadedModel model = ModelLoader.load(path, null)) {
            compare(model, new ParallelPlan(ranks, tp, ep, placement), preset);
        }
    }

    static Stream<Arguments> gguf() {
        return Stream.of(
                Arguments.of("tiny-llama", DType.Q8_0, 2, 2, 1),
                Arguments.of("tiny-llama", DType.Q4_0, 2, 2, 1),
                Arguments.of("tiny-mixtral", DType.Q4_0, 2, 2, 2),
                Arguments.of("tiny-mixtral", DType.Q8_0, 2, 1, 2));
    }

    /** GGUF block-quantized weights: o and down columns are cut on whole 32-element blocks, rows stay views. */
    @ParameterizedTest(name = "gguf {0} {1} ranks {2} tp {3} ep {4}")
    @MethodSource("gguf")
    void ggufBlockQuantizedModelsMatchOneProcess(String preset, DType dtype, int ranks, int tp, int ep) {
        Path file = tmp.resolve(preset + "-" + dtype.name().toLowerCase() + ".gguf");
        if (!java.nio.file.Files.exists(file)) dev.bitcap.testing.SyntheticFixtures.gguf(preset, dtype, tmp);
        try (LoadedModel model = ModelLoader.load(file, null)) {
            assertEquals(dtype.name(), model.weights().layers()[0].attention().o().storage(), "the o projection stays block-quantized");
            compare(model, new ParallelPlan(ranks, tp, ep, ExpertPlacement.CONTIGUOUS), preset + " " + dtype);
        }
    }

    static Stream<Arguments> quantized() {
        return Stream.of(
                Arguments.of("int4-asym", 32, 2, 2, 1),
                Arguments.of("int4-asym", 64, 2, 2, 1),
                Arguments.of("int8-sym", 32, 4, 4, 1),
                Arguments.of("int3-asym", -1, 4, 4, 4),
                Arguments.of("nf4", 32, 2, 2, 2),
                Arguments.of("int2-asym", 32, 2, 1, 2));
    }

    /**
     * Packed group-quantized projections (bitcap's own compressed checkpoints hold these): q/k/v/gate/up rows are views
     * of the packed codes, o and down columns whole groups copied. Scaled synthetic Mixtral, RTN-quantized here.
     */
    @ParameterizedTest(name = "quantized {0} g{1} ranks {2} tp {3} ep {4}")
    @MethodSource("quantized")
    void groupQuantizedModelsMatchOneProcess(String format, int group, int ranks, int tp, int ep) {
        Path path = scaledSynth("mixtral-8x7b", "mixtral-8x7b-scaled", 8);
        try (LoadedModel model = ModelLoader.load(path, null); LoadedModel q = QuantizedModels.rtn(model, format, group)) {
            assertTrue(q.weights().layers()[0].attention().o() instanceof dev.bitcap.quant.QuantizedTensor);
            compare(q, new ParallelPlan(ranks, tp, ep, ExpertPlacement.CONTIGUOUS), "mixtral " + format + " g" + group);
        }
    }

    @Test
    void aWorkerWhoseRankZeroVanishesStopsServing() throws Exception {
        Path dir = SharedData.require("hf-fixtures/tiny-llama/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null); Rendezvous rv = Rendezvous.listen("127.0.0.1", 0)) {
            ParallelPlan plan = new ParallelPlan(2, 2, 1, ExpertPlacement.CONTIGUOUS);
            var served = new java.util.concurrent.CompletableFuture<Boolean>();
            Thread t = new Thread(() -> {
                try (ModelShard shard = ModelShard.of(model, plan, 1); RankLinks links = RankLinks.join(rv.address(), 1, 2, 5, 10_000)) {
                    served.complete(new RankWorker(shard, links, new TcpCollective(links)).serve());
                } catch (Throwable e) {
                    served.completeExceptionally(e);
                }
            });
            t.start();
            RankLinks root = rv.accept(2, 5, 10_000, () -> null);
            root.sendControl(ControlMessage.encode(new ControlMessage.NewSequence(0, 4)));
            root.close(); // rank 0 dies without a stop message
            assertEquals(false, served.get(10, java.util.concurrent.TimeUnit.SECONDS), "serve() ends, reporting no stop was received");
        }
    }

    @Test
    void workerProcessesLaunchedForRealMatchOneProcessAndExitWithRankZero() throws Exception {
        Path dir = SharedData.require("hf-fixtures/tiny-mixtral/model.safetensors").getParent();
        String before = System.getProperty("bitcap.threads");
        System.setProperty("bitcap.threads", "1"); // the workers' pools; this JVM's pool is already made
        try (LoadedModel model = ModelLoader.load(dir, null)) {
            ParallelPlan plan = new ParallelPlan(2, 2, 2, ExpertPlacement.CONTIGUOUS);
            PassRecorder recorder = new PassRecorder();
            Run single = run(new CpuBackend(model, PassRecorder.NONE), model);
            ParallelBackend backend = RankLauncher.launch(model, dir, null, plan, recorder);
            Run split = run(backend, model);
            assertClose(single, split, "tiny-mixtral as 2 processes");
            assertTrue(recorder.records().stream().allMatch(r -> r.devices() == 2), "passes record 2 devices");
        } finally {
            if (before == null) System.clearProperty("bitcap.threads");
            else System.setProperty("bitcap.threads", before);
        }
    }

    /** Prefill logits of every position, four greedy decode steps with their logits, on both sides. */
    record Run(float[] prefill, List<float[]> steps, int[] greedy, List<PassRecord> records) {}

    static Run run(Backend backend, LoadedModel model) {
        try (backend) {
            int vocab = model.config().vocabSize();
            Sequence seq = backend.newSequence(PROMPT.length + 8);
            float[] prefill = backend.forward(List.of(seq), List.of(PROMPT), true);
            float[] last = java.util.Arrays.copyOfRange(prefill, (PROMPT.length - 1) * vocab, PROMPT.length * vocab);
            List<float[]> steps = new ArrayList<>();
            int[] greedy = new int[5];
            for (int s = 0; s < 5; s++) {
                greedy[s] = argmax(last);
                if (s == 4) break;
                last = backend.forward(List.of(seq), List.of(new int[] {greedy[s]}), false);
                steps.add(last);
            }
            // a second sequence in the same batch as the first exercises several sequences per pass
            Sequence other = backend.newSequence(8);
            float[] both = backend.forward(List.of(seq, other), List.of(new int[] {greedy[4]}, new int[] {3, 4, 5}), false);
            steps.add(both);
            return new Run(prefill, steps, greedy, List.of());
        }
    }

    static void compare(LoadedModel model, ParallelPlan plan, String what) {
        Run single = run(new CpuBackend(model, PassRecorder.NONE), model);
        PassRecorder recorder = new PassRecorder();
        Run split = run(ThreadRanks.start(model, plan, recorder), model);
        String label = what + " " + plan;
        assertClose(single, split, label);
        if (plan.tp() == 1) {
            assertArrayEquals(single.prefill(), split.prefill(), label + ": without tp the sums keep their order, so the logits are identical");
        }
        assertEquals(6, recorder.records().size());
        for (PassRecord r : recorder.records()) assertEquals(plan.ranks(), r.devices(), label + ": devices recorded");
        if (model.config().isMoe()) assertEquals(PROMPT.length * model.config().expertsPerToken(), recorder.records().get(0).routedExperts()[1].length);
    }

    static void assertClose(Run single, Run split, String label) {
        assertArrayEquals(single.greedy(), split.greedy(), label + ": greedy tokens");
        assertRelative(single.prefill(), split.prefill(), label + " prefill");
        for (int s = 0; s < single.steps().size(); s++) assertRelative(single.steps().get(s), split.steps().get(s), label + " step " + s);
    }

    static void assertRelative(float[] ref, float[] got, String label) {
        assertEquals(ref.length, got.length, label + ": logit count");
        double scale = 0, err = 0;
        for (float v : ref) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < ref.length; i++) err = Math.max(err, Math.abs((double) ref[i] - got[i]));
        assertTrue(scale > 0, label + ": all-zero reference");
        assertTrue(err <= RELATIVE * scale, label + ": max logit error " + err + " against scale " + scale);
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
