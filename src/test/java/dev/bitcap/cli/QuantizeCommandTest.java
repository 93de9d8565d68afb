package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bitcap.compress.CalibrationSet;
import dev.bitcap.compress.ModelQuantizer;
import dev.bitcap.compress.QuantMethod;
import dev.bitcap.engine.CpuBackend;
import dev.bitcap.engine.Generator;
import dev.bitcap.engine.PassRecorder;
import dev.bitcap.engine.SamplerSettings;
import dev.bitcap.format.SafetensorsFile;
import dev.bitcap.model.LoadedModel;
import dev.bitcap.model.ModelLoader;
import dev.bitcap.quant.QuantFormats;
import dev.bitcap.quant.QuantizedTensor;
import dev.bitcap.testing.Models;
import dev.bitcap.testing.SharedData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code bitcap quantize}'s good paths: the folder it writes is the model it quantized, bit for bit. */
class QuantizeCommandTest {
    @TempDir Path dir;

    private static final int SAMPLES = 4, SEQ_LEN = 128;

    private static List<String> quantizeArgs(Path model, String format, int group, String method, Path calib, Path out) {
        List<String> a = new ArrayList<>(List.of("quantize", "--model", model.toString(), "--format", format, "--group",
                String.valueOf(group), "--method", method, "--out", out.toString()));
        if (calib != null) a.addAll(List.of("--calib", calib.toString(), "--samples", "" + SAMPLES, "--seq-len", "" + SEQ_LEN));
        return a;
    }

    /**
     * Quantize stories260K through the command, load the folder it wrote, and compare its logits with those of the same
     * model quantized in memory (same format, group, method and calibration windows): they must be identical, so
     * nothing (codes, fp16 parameters, AWQ input scales, the kept head) changes on the way through the file.
     */
    @ParameterizedTest
    @CsvSource({"int3-asym, 32, rtn", "int2-asym, 32, clip", "afp4, 64, gptq", "nf3, -1, awq", "int8-sym, 64, gptq", "anf3, 32, rtn"})
    void folderHoldsExactlyTheQuantizedModel(String format, int group, String method) throws Exception {
        Path bin = SharedData.require("models/stories260K.bin");
        Path calibFile = SharedData.require("text/tinyshakespeare.txt");
        QuantMethod m = QuantMethod.byName(method);
        Path calib = m.needsCalibration() ? calibFile : null;
        Path out = dir.resolve("q");
        CliRunner r = CliRunner.run(quantizeArgs(bin, format, group, method, calib, out).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("wrote " + out), r.out());

        int[] ids;
        float[] expected;
        double bits;
        try (LoadedModel source = ModelLoader.load(bin, null)) {
            String text = Files.readString(SharedData.require("text/tinystories-val.txt"), StandardCharsets.UTF_8);
            ids = java.util.Arrays.copyOf(source.tokenizer().encode(text.substring(0, 2000), true), 256);
        }
        LoadedModel source = ModelLoader.load(bin, null);
        CalibrationSet set = calib == null ? null
                : CalibrationSet.fromText(source.tokenizer(), Files.readString(calib, StandardCharsets.UTF_8), calib.toString(), SAMPLES, SEQ_LEN, 0);
        ModelQuantizer.Result inMemory = ModelQuantizer.quantize(source,
                new ModelQuantizer.Options(QuantFormats.byName(format), group, m, List.of("lm_head")), set, (n, d, t) -> {});
        try (LoadedModel q = inMemory.model()) {
            expected = Models.allLogits(q, ids);
            bits = inMemory.bitsPerWeight();
        }
        try (LoadedModel loaded = ModelLoader.load(out, null)) {
            int[] quantized = {0};
            loaded.forEachMatrix(w -> {
                if (w instanceof QuantizedTensor qt && qt.format().name().equals(format)) quantized[0]++;
            });
            assertEquals(35, quantized[0], "every layer matrix (5 layers x 7) is stored quantized; the tied head is kept");
            assertArrayEquals(expected, Models.allLogits(loaded, ids));
        }
        JsonNode qc = new ObjectMapper().readTree(out.resolve("config.json").toFile()).get("quantization_config");
        assertEquals(format, qc.get("format").asText());
        assertEquals(group, qc.get("group_size").asInt());
        assertEquals(method, qc.get("method").asText());
        assertEquals(bits, qc.get("bits_per_weight").asDouble());
        // true bits, from the file: every byte stored for the quantized matrices, over their weights (45,312 a layer)
        long bytes = 0;
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            for (String name : st.names()) {
                if (name.endsWith(".qcodes") || name.endsWith(".qparams") || name.endsWith(".qinput_scale")) bytes += st.tensor(name).byteSize();
            }
        }
        assertEquals(8.0 * bytes / (5 * 45_312), bits, 1e-12);
        assertEquals(calib != null, qc.has("calibration") && !qc.get("calibration").isNull());
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.bin")), "the llama2.c tokenizer travels with the folder");
    }

    /**
     * stories260K.gguf holds the same tensors as the .bin: quantized the same way, the two folders generate the same greedy
     * tokens, and the GGUF one carries its tokenizer as a tensor-less tokenizer.gguf that encodes as the .bin's does.
     */
    @Test
    void ggufSourceQuantizesLikeTheBinSource() {
        Path bin = SharedData.require("models/stories260K.bin");
        Path gguf = SharedData.require("models/stories260K.gguf");
        Path fromBin = dir.resolve("from-bin"), fromGguf = dir.resolve("from-gguf");
        assertEquals(0, CliRunner.run(quantizeArgs(bin, "int4-asym", 32, "rtn", null, fromBin).toArray(String[]::new)).code());
        CliRunner r = CliRunner.run(quantizeArgs(gguf, "int4-asym", 32, "rtn", null, fromGguf).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(fromGguf.resolve("tokenizer.gguf")));
        assertFalse(Files.exists(fromGguf.resolve("tokenizer.bin")));
        try (LoadedModel a = ModelLoader.load(fromBin, null); LoadedModel b = ModelLoader.load(fromGguf, null)) {
            String prompt = "Once upon a time, a little dog";
            int[] ids = a.tokenizer().encode(prompt, true);
            assertArrayEquals(ids, b.tokenizer().encode(prompt, true));
            int[] ta = greedy(a, ids), tb = greedy(b, ids);
            assertEquals(80, ta.length);
            assertArrayEquals(ta, tb);
            assertArrayEquals(Models.allLogits(a, ids), Models.allLogits(b, ids));
        }
    }

    private static int[] greedy(LoadedModel m, int[] prompt) {
        try (CpuBackend backend = new CpuBackend(m, PassRecorder.NONE)) {
            return new Generator(backend, m.config().maxContext())
                    .generate(List.of(prompt), 80, SamplerSettings.GREEDY, Set.of(), (s, t) -> {}).tokens().get(0);
        }
    }

    @Test
    void listShowsEveryFormatAndMethod() {
        CliRunner r = CliRunner.run("quantize", "--list");
        assertEquals(0, r.code(), r.err());
        for (var f : QuantFormats.all()) assertTrue(r.out().contains(f.name()), f.name());
        for (QuantMethod m : QuantMethod.values()) assertTrue(r.out().contains(m.cliName()), m.cliName());
    }

    /** --force replaces an existing folder with the new model. */
    @Test
    void forceReplacesAnExistingFolder() throws Exception {
        Path bin = SharedData.require("models/stories260K.bin");
        Path out = dir.resolve("q");
        assertEquals(0, CliRunner.run(quantizeArgs(bin, "int8-asym", 32, "rtn", null, out).toArray(String[]::new)).code());
        List<String> again = quantizeArgs(bin, "int2-sym", 64, "rtn", null, out);
        again.add("--force");
        CliRunner r = CliRunner.run(again.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertEquals("int2-sym", new ObjectMapper().readTree(out.resolve("config.json").toFile()).at("/quantization_config/format").asText());
        try (var files = Files.list(dir)) {
            assertEquals(List.of("q"), files.map(p -> p.getFileName().toString()).toList(), "no temporary or old folder left");
        }
    }
}
