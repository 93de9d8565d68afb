package dev.bitcap.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every bad input to {@code bitcap quantize} gives one line, exit code 2, and leaves no output folder (nor a hidden
 * temporary one) behind.
 */
class QuantizeBadInputTest {
    @TempDir Path dir;

    private Path out() {
        return dir.resolve("out");
    }

    private CliRunner quantize(Path model, String... extra) {
        List<String> a = new ArrayList<>(List.of("quantize", "--model", model.toString(), "--out", out().toString()));
        a.addAll(List.of(extra));
        return CliRunner.run(a.toArray(String[]::new));
    }

    private void assertNothingWritten(String... inputs) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(inputs), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "the folder holds only the inputs: no output, no temporary folder");
        }
    }

    private static Path stories() {
        return SharedData.require("models/stories260K.bin");
    }

    @Test
    void unknownFormatListsTheValidOnes() throws IOException {
        CliRunner r = quantize(stories(), "--format", "int5-asym");
        r.assertUserError("unknown quantization format 'int5-asym'");
        for (String f : new String[] {"int2-sym", "int8-asym", "fp4", "afp3", "nf4", "anf3"}) assertTrue(r.err().contains(f), r.err());
        assertNothingWritten();
    }

    @Test
    void unknownMethodListsTheValidOnes() throws IOException {
        CliRunner r = quantize(stories(), "--method", "hqq");
        r.assertUserError("unknown quantization method 'hqq'");
        for (String m : new String[] {"rtn", "clip", "gptq", "awq"}) assertTrue(r.err().contains(m), r.err());
        assertNothingWritten();
    }

    /** Codes are packed in units of 32 for every width (PackedCodes), and groups must start on a unit. */
    @ParameterizedTest
    @ValueSource(strings = {"48", "16", "0", "-2", "100"})
    void groupSizeThatIsNotAPositiveMultipleOfThePackingUnit(String group) throws IOException {
        for (String format : new String[] {"int4-asym", "int3-sym", "afp4", "int8-sym"}) {
            quantize(stories(), "--format", format, "--group", group).assertUserError("--group " + group + " is not valid: use a positive multiple of 32");
        }
        assertNothingWritten();
    }

    @Test
    void calibrationMethodWithoutCalibrationTextAndRtnWithOne() throws IOException {
        quantize(stories(), "--method", "gptq").assertUserError("needs --calib FILE");
        quantize(stories(), "--method", "rtn", "--calib", SharedData.require("text/tinyshakespeare.txt").toString())
                .assertUserError("uses no calibration");
        quantize(stories(), "--method", "awq", "--calib", dir.resolve("missing.txt").toString()).assertUserError("does not exist");
        assertNothingWritten();
    }

    @Test
    void calibrationTextTooShortForSamplesTimesSeqLen() throws IOException {
        Path calib = dir.resolve("short.txt");
        Files.writeString(calib, "Once upon a time there was a cat. ".repeat(20));
        quantize(stories(), "--method", "gptq", "--calib", calib.toString(), "--samples", "8", "--seq-len", "128")
                .assertUserError("fewer than the 8 samples requested");
        assertNothingWritten("short.txt");
    }

    @Test
    void existingOutputWithoutForceIsLeftAlone() throws IOException {
        Files.createDirectory(out());
        Files.writeString(out().resolve("keep.txt"), "mine");
        quantize(stories(), "--format", "int4-asym").assertUserError("exists; pass --force");
        assertEquals("mine", Files.readString(out().resolve("keep.txt")));
        try (Stream<Path> files = Files.list(out())) {
            assertEquals(1, files.count());
        }
    }

    /**
     * A copy of stories260K with one NaN in {@code matrix} of {@code layer} (llama2.c layout: header, embedding, attention
     * norms, then wq, wk, wv, wo of every layer, FFN norms, w1, w2, w3), with its tokenizer beside it.
     */
    private Path storiesWithNaN(String matrix, int layer) throws IOException {
        Path copy = dir.resolve("nan.bin");
        Files.copy(stories(), copy);
        Files.copy(SharedData.require("models/tok512.bin"), dir.resolve("tok512.bin"));
        int dim = 64, hidden = 172, layers = 5, vocab = 512, kvDim = 32;
        long[] sizes = {(long) vocab * dim, (long) layers * dim, (long) layers * dim * dim, (long) layers * dim * kvDim,
                (long) layers * dim * kvDim, (long) layers * dim * dim, (long) layers * dim, (long) layers * hidden * dim,
                (long) layers * dim * hidden, (long) layers * hidden * dim};
        String[] names = {"embed", "attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"};
        long floats = 0;
        int i = 0;
        while (!names[i].equals(matrix)) floats += sizes[i++];
        floats += sizes[i] / layers * layer + 7; // the 8th weight of that layer's matrix
        try (RandomAccessFile f = new RandomAccessFile(copy.toFile(), "rw")) {
            f.seek(7 * 4 + floats * 4);
            f.write(new byte[] {0, 0, (byte) 0xc0, 0x7f}); // NaN, little-endian
        }
        return copy;
    }

    /**
     * The error names the tensor for every method; for the calibrated ones the NaN would otherwise surface first as
     * non-finite activations of a later layer. A NaN in the last layer also stands for a quantize interrupted mid-way
     * (RTN has quantized the earlier layers by then): no output is left behind.
     */
    @ParameterizedTest
    @CsvSource({"rtn, wq, 4, model.layers.4.self_attn.q_proj.weight", "gptq, wq, 4, model.layers.4.self_attn.q_proj.weight",
            "clip, w2, 1, model.layers.1.mlp.down_proj.weight", "awq, w3, 0, model.layers.0.mlp.up_proj.weight"})
    void weightWithNaNIsNamed(String method, String matrix, int layer, String tensor) throws IOException {
        Path model = storiesWithNaN(matrix, layer);
        List<String> args = new ArrayList<>(List.of("--method", method, "--format", "int3-asym", "--group", "32"));
        if (!method.equals("rtn")) {
            args.addAll(List.of("--calib", SharedData.require("text/tinyshakespeare.txt").toString(), "--samples", "2", "--seq-len", "64"));
        }
        CliRunner r = quantize(model, args.toArray(String[]::new));
        r.assertUserError("tensor " + tensor + " has a non-finite weight NaN");
        assertNothingWritten("nan.bin", "tok512.bin");
    }

    /** A NaN in a norm is not in a matrix to quantize: calibration meets it as non-finite activations, and says where. */
    @Test
    void nonFiniteActivationsNameTheMatrixWhoseInputTheyAre() throws IOException {
        Path model = storiesWithNaN("attn_norm", 0);
        CliRunner r = quantize(model, "--method", "gptq", "--calib", SharedData.require("text/tinyshakespeare.txt").toString(),
                "--samples", "2", "--seq-len", "64");
        r.assertUserError("the input of model.layers.0.self_attn.q_proj.weight on the calibration text: calibration input: value NaN");
        assertNothingWritten("nan.bin", "tok512.bin");
    }
}
