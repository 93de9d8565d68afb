package dev.bitcap.compress;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bitcap.cli.Main;
import dev.bitcap.format.HfConfig;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.quant.BinaryTensor;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SharedData;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** billm / stbllm through `bitcap quantize`, the checkpoint they write, and the model loaded back from it. */
class BinaryCheckpointTest {
    private record Run(int code, String out, String err) {}

    private static Run cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * The folder `quantize` writes loads back to the same model as quantizing in memory with the same calibration
     * windows: every logit of a 40-token sequence is bit-identical (same bytes, same kernels).
     */
    @ParameterizedTest
    @CsvSource({"billm, ''", "billm, 4:8", "stbllm, 5:8", "stbllm, ''"})
    void checkpointLoadsBackToTheInMemoryModel(String method, String nm, @TempDir Path tmp) throws Exception {
        Path model = SharedData.require("models/stories260K.bin");
        Path calib = SharedData.require("text/tinyshakespeare.txt");
        Path out = tmp.resolve("q");
        List<String> args = new ArrayList<>(List.of("quantize", "--model", model.toString(), "--method", method, "--calib", calib.toString(),
                "--samples", "4", "--seq-len", "128", "--out", out.toString()));
        if (!nm.isEmpty()) args.addAll(List.of("--nm", nm));
        Run r = cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("in binary " + (nm.isEmpty() ? "dense" : nm)) && r.out().contains(" by " + method), r.out());

        JsonNode qc = HfConfig.read(out.resolve("config.json")).get("quantization_config");
        assertEquals("binary", qc.get("format").asText());
        assertEquals(method, qc.get("method").asText());
        assertEquals(method.equals("stbllm") ? 3 : 2, qc.get("binary").get("regions").asInt());

        int n = nm.isEmpty() ? 8 : nm.charAt(0) - '0';
        int[] ids = new int[40];
        for (int i = 0; i < ids.length; i++) ids[i] = 1 + (i * 37) % 500;
        try (LoadedModel source = ModelLoader.load(model, null)) {
            CalibrationSet set = CalibrationSet.fromText(source.tokenizer(), Files.readString(calib), calib.toString(), 4, 128, 0);
            ModelQuantizer.Result mem = ModelQuantizer.quantize(source, new ModelQuantizer.Options(null, 128, QuantMethod.byName(method),
                    List.of("lm_head"), n), set, (name, done, total) -> {});
            try (LoadedModel inMemory = mem.model(); LoadedModel loaded = ModelLoader.load(out, null)) {
                float[] a = Models.allLogits(inMemory, ids), b = Models.allLogits(loaded, ids);
                assertArrayEquals(a, b);
                List<BinaryTensor> binary = new ArrayList<>();
                loaded.forEachMatrix(t -> {
                    if (t instanceof BinaryTensor bt) binary.add(bt);
                });
                assertEquals(35, binary.size(), "every matrix but the (tied, skipped) head is binary");
                int[] perLayer = mem.keptPer8ByLayer();
                if (method.equals("stbllm") && n < 8) {
                    double mean = 0;
                    for (int k : perLayer) mean += k / (double) perLayer.length;
                    assertEquals(n, mean, 1e-12, "layer-wise N keeps the requested mean");
                    assertEquals(perLayer[0], binary.get(0).keptPer8());
                } else {
                    assertNull(perLayer);
                    for (BinaryTensor t : binary) assertEquals(n, t.keptPer8());
                }
                double bits = qc.get("bits_per_weight").asDouble();
                assertEquals(mem.bitsPerWeight(), bits, 1e-12);
            }
        }
        Run inspect = cli("inspect", "--model", out.toString());
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("binary "), inspect.out());
        assertTrue(inspect.out().contains("matrix bits per weight"), inspect.out());
    }

    @Test
    void wrongCombinationsAreOneLineErrors(@TempDir Path tmp) {
        Path model = SharedData.require("models/stories260K.bin");
        Path calib = SharedData.require("text/tinyshakespeare.txt");
        String m = model.toString(), c = calib.toString(), o = tmp.resolve("x").toString();
        String[][] cases = {
                {"format binary is made by --method billm or stbllm", "--format", "binary", "--method", "rtn"},
                {"format binary is made by --method billm or stbllm", "--format", "binary", "--method", "gptq", "--calib", c},
                {"--method stbllm makes binary weights", "--format", "int4-asym", "--method", "stbllm", "--calib", c},
                {"--nm applies to the binary format only", "--format", "int4-asym", "--method", "gptq", "--nm", "4:8", "--calib", c},
                {"--nm 3:7 is not supported: use 4:8, 5:8 or 6:8", "--method", "stbllm", "--nm", "3:7", "--calib", c},
                {"--nm 8:8 is not supported", "--method", "billm", "--nm", "8:8", "--calib", c},
                {"--method stbllm needs --calib FILE", "--method", "stbllm", "--nm", "4:8"},
                {"--group does not apply to binary", "--method", "billm", "--group", "64", "--calib", c},
                {"unknown quantization method 'bilm'", "--method", "bilm"},
        };
        for (String[] k : cases) {
            List<String> args = new ArrayList<>(List.of("quantize", "--model", m, "--out", o));
            args.addAll(List.of(k).subList(1, k.length));
            Run r = cli(args.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertFalse(r.err().strip().contains("\n"), r.err());
            assertTrue(r.err().contains(k[0]), "expected '" + k[0] + "' in: " + r.err());
            assertFalse(Files.exists(tmp.resolve("x")), "no output after a refused command");
        }
    }
}
