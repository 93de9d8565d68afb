package dev.bitcap.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.testing.Golden;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SharedData;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** stories260K decodes greedily from BOS to llama2.c's own sample, from the .bin and from the GGUF. */
class Stories260kGoldenTest {
    private static String greedyFromBos(LoadedModel model, int tokens) {
        try (CpuBackend backend = new CpuBackend(model, PassRecorder.NONE)) {
            var tok = model.tokenizer();
            var result = new Generator(backend, model.config().maxContext())
                    .generate(List.of(new int[] {tok.bosId()}), tokens, SamplerSettings.GREEDY, tok.stopIds(), (s, t) -> {});
            int[] withBos = new int[result.tokens().get(0).length + 1];
            withBos[0] = tok.bosId();
            System.arraycopy(result.tokens().get(0), 0, withBos, 1, withBos.length - 1);
            return tok.decode(withBos, true);
        }
    }

    @Test
    void llama2cCheckpointWithItsTokenizerGivesTheGoldenText() {
        Path bin = SharedData.require("models/stories260K.bin");
        Path tok = SharedData.require("models/tok512.bin");
        try (LoadedModel model = ModelLoader.load(bin, tok)) {
            String text = greedyFromBos(model, 60);
            assertTrue(text.startsWith(Golden.STORIES260K_FROM_BOS), "got: " + text);
        }
    }

    @Test
    void ggufGivesTheGoldenTextAndTheSameLogitsAsTheBin() {
        Path gguf = SharedData.require("models/stories260K.gguf");
        Path bin = SharedData.require("models/stories260K.bin");
        try (LoadedModel g = ModelLoader.load(gguf, null); LoadedModel b = ModelLoader.load(bin, null)) {
            String text = greedyFromBos(g, 60);
            assertTrue(text.startsWith(Golden.STORIES260K_FROM_BOS), "got: " + text);
            int[] ids = {1, 403, 407, 261, 378, 77, 325};
            assertEquals(0.0, Models.maxAbsDiff(Models.allLogits(g, ids), Models.allLogits(b, ids)), "bit-identical weights give identical logits");
        }
    }
}
