package dev.bitcap.compress;

import static org.junit.jupiter.api.Assertions.*;

import dev.bitcap.BitcapException;
import dev.bitcap.format.QuantizationConfig;
import dev.bitcap.model.HfConfigWriter;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.model.QuantizedCheckpointWriter;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelQuantizerTest {
    @TempDir Path dir;

    private static LoadedModel stories() {
        return ModelLoader.load(SharedData.require("models/stories260K.bin"), null);
    }

    private static ModelQuantizer.Options options(String format, int group, String... skip) {
        return new ModelQuantizer.Options(QuantFormats.byName(format), group, QuantMethod.RTN, List.of(skip));
    }

    /**
     * stories260K's layers, by hand: q and o are 64x64, k and v 32x64, w1 and w3 172x64, w2 64x172; 45,312 weights a layer.
     * int4-asym g32 stores a 64-wide row as 2 units of 32 four-bit codes plus 2 groups x 2 fp16 parameters:
     * (64·4 + 2·2·16)/64 = 5 bits; a 172-wide row pads its codes to 192 and has 6 groups (the last one 12 wide):
     * (192·4 + 6·2·16)/172. The model's figure is the weight-weighted mean.
     */
    @Test
    void bitsPerWeightOfStoriesByHand() {
        try (LoadedModel m = stories()) {
            ModelQuantizer.Result r = ModelQuantizer.quantize(m, options("int4-asym", 32, "lm_head"), null, (n, d, t) -> {});
            try (LoadedModel q = r.model()) {
                assertEquals(5 * 45_312, r.quantizedWeights());
                assertEquals(35, r.quantized().size());
                assertEquals(List.of("lm_head.weight"), r.skipped());
                double narrow = 5.0, wide = (192 * 4 + 6 * 2 * 16) / 172.0;
                assertEquals((narrow * (45_312 - 11_008) + wide * 11_008) / 45_312, r.bitsPerWeight(), 1e-12);
            }
        }
    }

    /** Per channel: one group a row; nf3 is 3 bits with one fp16 scale: (64·3 + 16)/64 and (192·3 + 16)/172. */
    @Test
    void bitsPerWeightPerChannel() {
        try (LoadedModel m = stories()) {
            ModelQuantizer.Result r = ModelQuantizer.quantize(m, options("nf3", -1, "lm_head"), null, (n, d, t) -> {});
            try (LoadedModel q = r.model()) {
                double narrow = (64 * 3 + 16) / 64.0, wide = (192 * 3 + 16) / 172.0;
                assertEquals((narrow * (45_312 - 11_008) + wide * 11_008) / 45_312, r.bitsPerWeight(), 1e-12);
            }
        }
    }

    @Test
    void skipPatternsKeepMatrices() {
        try (LoadedModel m = stories()) {
            ModelQuantizer.Result r = ModelQuantizer.quantize(m, options("int8-sym", 64, "lm_head", "mlp."), null, (n, d, t) -> {});
            try (LoadedModel q = r.model()) {
                assertEquals(20, r.quantized().size());
                assertEquals(16, r.skipped().size());
                assertTrue(r.skipped().contains("model.layers.3.mlp.down_proj.weight"), r.skipped().toString());
                assertEquals(5 * (4096 + 2048 + 2048 + 4096), r.quantizedWeights());
            }
        }
    }

    /** An exception thrown part-way through (here by the progress listener) reaches the caller unchanged. */
    @Test
    void failureMidwayPropagates() {
        AtomicInteger calls = new AtomicInteger();
        try (LoadedModel m = stories()) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> ModelQuantizer.quantize(m, options("int4-sym", 32, "lm_head"), null, (n, d, t) -> {
                        if (calls.incrementAndGet() == 12) throw new IllegalStateException("injected after " + d + " of " + t);
                    }));
            assertEquals("injected after 12 of 35", e.getMessage());
        }
    }

    /**
     * Writing the checkpoint fails after config.json, the tokenizer and part of a file are in the folder: the folder
     * never appears under its name and the temporary one is removed.
     */
    @Test
    void failureWhileWritingLeavesNoFolder() throws IOException {
        Path out = dir.resolve("q");
        try (LoadedModel m = stories()) {
            ModelQuantizer.Result r = ModelQuantizer.quantize(m, options("int4-asym", 32, "lm_head"), null, (n, d, t) -> {});
            try (LoadedModel q = r.model()) {
                var qc = new QuantizationConfig(QuantFormats.byName("int4-asym"), 32, "rtn", r.bitsPerWeight(), r.skipped(), null);
                Path tok = SharedData.require("models/tok512.bin");
                BitcapException e = assertThrows(BitcapException.class, () -> QuantizedCheckpointWriter.write(q.config(), q.weights(),
                        HfConfigWriter.toJson(q.config()), qc, List.of(new QuantizedCheckpointWriter.ExtraFile(tok, "tokenizer.bin")),
                        d -> {
                            Files.writeString(d.resolve("half-written"), "abc");
                            throw new IOException("disk full (injected)");
                        }, out, false));
                assertTrue(e.getMessage().contains("disk full (injected)"), e.getMessage());
            }
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }
}
