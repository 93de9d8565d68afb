package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.format.SafetensorsFile;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SharedData;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Logits, router logits and greedy output against what Hugging Face transformers computed for the same checkpoints. */
class HfFixtureGoldenTest {
    private static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe"})
    void logitsAndRouterLogitsMatchTransformers(String fixture) {
        Path dir = SharedData.require("hf-fixtures/" + fixture + "/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null);
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            for (int i = 0; i < 2; i++) {
                int[] ids = Models.toInts(ref.tensor("input_ids_" + i).toLongArray());
                Map<Integer, float[]> router = new HashMap<>();
                float[] logits;
                try (CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
                    backend.setObserver(new ForwardObserver() {
                        @Override
                        public void routerLogits(int layer, float[] values, int tokens, int experts) {
                            router.put(layer, values);
                        }
                    });
                    logits = backend.forward(List.of(backend.newSequence(ids.length)), List.of(ids), true);
                }
                double err = Models.maxAbsDiff(ref.tensor("logits_" + i).toFloatArray(), logits);
                assertTrue(err <= TOLERANCE, fixture + " input " + i + ": max abs logit error " + err);
                if (model.config().isMoe()) {
                    for (int l = 0; l < model.config().layers(); l++) {
                        double rerr = Models.maxAbsDiff(ref.tensor("router_logits_" + i + "_layer" + l).toFloatArray(), router.get(l));
                        assertTrue(rerr <= TOLERANCE, fixture + " input " + i + " layer " + l + ": router logit error " + rerr);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-mixtral", "tiny-qwen2moe", "tiny-qwen3moe"})
    void greedyContinuationMatchesTransformers(String fixture) {
        Path dir = SharedData.require("hf-fixtures/" + fixture + "/model.safetensors").getParent();
        try (LoadedModel model = ModelLoader.load(dir, null);
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
             CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
            int[] prompt = Models.toInts(ref.tensor("greedy_prompt").toLongArray());
            int[] expected = Models.toInts(ref.tensor("greedy_output").toLongArray());
            var result = new Generator(backend, model.config().maxContext())
                    .generate(List.of(prompt), expected.length, SamplerSettings.GREEDY, Set.of(), (s, t) -> {});
            assertArrayEquals(expected, result.tokens().get(0), fixture + " greedy tokens");
            assertEquals(Generator.StopReason.MAX_TOKENS, result.reasons().get(0));
        }
    }
}
