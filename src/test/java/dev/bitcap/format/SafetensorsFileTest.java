package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import dev.bitcap.testing.SharedData;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void readsTheTinyLlamaFixtureWrittenByTransformers() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("hf-fixtures/tiny-llama/model.safetensors"))) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(21, f.names().size());
            Tensor k = f.tensor("model.layers.1.self_attn.k_proj.weight");
            assertEquals(DType.F32, k.dtype());
            assertArrayEquals(new long[] {32, 64}, k.shape());
            assertEquals(0.07600954f, k.getFloat(5 * 64 + 9));
            double sum = 0;
            for (float v : f.tensor("lm_head.weight").toFloatArray()) {
                sum += v;
            }
            assertEquals(0.8119956206336951, sum, 1e-4);
        }
    }

    @Test
    void readsI64AndF32ReferenceTensors() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("hf-fixtures/tiny-llama/reference.safetensors"))) {
            Tensor ids = f.tensor("input_ids_0");
            assertEquals(DType.I64, ids.dtype());
            assertArrayEquals(new long[] {328, 384, 353, 219, 207, 297, 389, 171, 312, 166, 505, 106, 86, 86, 133, 180,
                256, 432, 78, 401, 490, 209, 394, 411}, ids.toLongArray());
            assertArrayEquals(new long[] {316, 44, 316, 485, 265, 344, 344, 344, 130, 110, 482, 37, 38, 93, 491, 223},
                    f.tensor("greedy_output").toLongArray());
            Tensor logits = f.tensor("logits_0");
            assertArrayEquals(new long[] {24, 512}, logits.shape());
            assertEquals(0.8194067f, logits.getFloat(3 * 512 + 7));
            assertTrue(f.names().containsAll(List.of("greedy_prompt", "input_ids_1", "logits_1")));
        }
    }

    @Test
    void roundTripsEveryDtypeShapesAndMetadata() {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("z.f32", Tensor.ofFloats(arena, new float[] {1.5f, -2f, 3.25f, 0f, 7f, -0.125f}, 2, 3));
            tensors.put("a.f16", filled(arena, DType.F16, 4, 2));
            tensors.put("bf16", filled(arena, DType.BF16, 5));
            tensors.put("i64", filled(arena, DType.I64, 3));
            tensors.put("i32", filled(arena, DType.I32, 1, 2, 2));
            tensors.put("i16", filled(arena, DType.I16, 2));
            tensors.put("i8", filled(arena, DType.I8, 7));
            tensors.put("u8", filled(arena, DType.U8, 9));
            tensors.put("scalar", filled(arena, DType.F32));
            tensors.put("empty", filled(arena, DType.F32, 0, 3));
            Path file = dir.resolve("all.safetensors");
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt", "note", "ünïcode"));

            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertEquals(Map.of("format", "pt", "note", "ünïcode"), f.metadata());
                assertEquals(List.of("a.f16", "bf16", "empty", "i16", "i32", "i64", "i8", "scalar", "u8", "z.f32"),
                        List.copyOf(f.names()));
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                    Tensor back = f.tensor(e.getKey());
                    assertEquals(e.getValue().dtype(), back.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), back.shape(), e.getKey());
                    assertEquals(-1, e.getValue().data().mismatch(back.data()), e.getKey());
                }
                assertEquals(-2f, f.tensor("z.f32").getFloat(1));
            }
        }
    }

    @Test
    void writerPadsTheHeaderSoDataStartsEightByteAligned() throws IOException {
        Path file = dir.resolve("pad.safetensors");
        SafetensorsWriter.write(file, List.of(new TensorSpec("x", DType.F32, new long[] {3})), Map.of(),
                (spec, target) -> target.fill((byte) 1));
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = bytes.getLong(0);
        assertEquals(0, headerLength % 8);
        assertEquals(8 + headerLength + 12, Files.size(file));
    }

    @Test
    void fillerWritesStraightIntoTheFile() {
        Path file = dir.resolve("filled.safetensors");
        List<TensorSpec> specs = List.of(new TensorSpec("a", DType.F32, new long[] {2, 2}),
                new TensorSpec("b", DType.I32, new long[] {3}));
        SafetensorsWriter.write(file, specs, Map.of(), (spec, target) -> {
            for (long i = 0; i < spec.elementCount(); i++) {
                if (spec.dtype() == DType.F32) {
                    target.set(Tensor.F32_LE, 4 * i, i + 0.5f);
                } else {
                    target.set(Tensor.I32_LE, 4 * i, (int) (100 + i));
                }
            }
        });
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {0.5f, 1.5f, 2.5f, 3.5f}, f.tensor("a").toFloatArray());
            assertArrayEquals(new long[] {100, 101, 102}, f.tensor("b").toLongArray());
        }
    }

    @Test
    void aFillerThatThrowsLeavesNoTargetAndNoTempFile() throws IOException {
        Path file = dir.resolve("broken.safetensors");
        RuntimeException thrown = assertThrows(IllegalStateException.class, () ->
                SafetensorsWriter.write(file, List.of(new TensorSpec("a", DType.F32, new long[] {4})), Map.of(),
                        (spec, target) -> {
                            throw new IllegalStateException("quantizer failed");
                        }));
        assertEquals("quantizer failed", thrown.getMessage());
        try (var listing = Files.list(dir)) {
            assertEquals(List.of(), listing.toList());
        }
    }

    @Test
    void writerRejectsBlockQuantizedTensorsAndDuplicateNames() {
        Path file = dir.resolve("x.safetensors");
        BitcapException q = assertThrows(BitcapException.class, () -> SafetensorsWriter.write(file,
                List.of(new TensorSpec("w", DType.Q8_0, new long[] {32})), Map.of(), (s, t) -> {}));
        assertTrue(q.getMessage().contains("cannot hold Q8_0 tensor w"), q.getMessage());
        BitcapException dup = assertThrows(BitcapException.class, () -> SafetensorsWriter.write(file,
                List.of(new TensorSpec("w", DType.F32, new long[] {1}), new TensorSpec("w", DType.F32, new long[] {1})),
                Map.of(), (s, t) -> {}));
        assertTrue(dup.getMessage().contains("tensor name w"), dup.getMessage());
        assertFalse(Files.exists(file));
    }

    @Test
    void missingTensorIsNamed() {
        Path file = writeSmallFile();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertFalse(f.contains("nope"));
            BitcapException e = assertThrows(BitcapException.class, () -> f.tensor("nope"));
            assertEquals(file + ": no tensor nope", e.getMessage());
        }
    }

    @Test
    void truncatedFileNamesTheTensorAndSizes() throws IOException {
        Path file = writeSmallFile();
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 5));
        String message = openFails(file);
        assertTrue(message.startsWith(file + ": truncated: tensor w ends at byte " + bytes.length
                + " but the file has " + (bytes.length - 5)), message);
    }

    @Test
    void headerThatIsNotJson() throws IOException {
        String message = openFails(raw("{\"w\": {\"dtype\": \"F32\", ", new byte[0]));
        assertTrue(message.contains(": header: invalid JSON ("), message);
    }

    @Test
    void headerThatIsJsonButNotAnObject() throws IOException {
        assertTrue(openFails(raw("[1, 2]", new byte[0])).contains("expected an object"));
    }

    @Test
    void unknownDtype() throws IOException {
        String message = openFails(raw("{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]));
        assertTrue(message.endsWith(": tensor w: unknown dtype Q7"), message);
    }

    @Test
    void knownButUnsupportedDtypes() throws IOException {
        String f64 = openFails(raw("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]));
        assertTrue(f64.endsWith(": tensor w: dtype F64 is not supported"), f64);
        String bool = openFails(raw("{\"w\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[1]));
        assertTrue(bool.endsWith(": tensor w: dtype BOOL is not supported"), bool);
    }

    @Test
    void offsetsThatDisagreeWithDtypeAndShape() throws IOException {
        String message = openFails(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", new byte[24]));
        assertTrue(message.endsWith(": tensor w: data_offsets [0, 20] hold 20 bytes but F32[2, 3] needs 24"), message);
        String reversed = openFails(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", new byte[24]));
        assertTrue(reversed.contains("data_offsets [8, 4]"), reversed);
    }

    @Test
    void negativeShapeAndMissingFields() throws IOException {
        assertTrue(openFails(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", new byte[0]))
                .contains("tensor w: shape holds -1, expected a non-negative integer"));
        assertTrue(openFails(raw("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}", new byte[0]))
                .contains("tensor w: header entry has no \"shape\" array"));
        assertTrue(openFails(raw("{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", new byte[4]))
                .contains("tensor w: header entry has no \"dtype\" string"));
        assertTrue(openFails(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", new byte[4]))
                .contains("tensor w: header entry has no \"data_offsets\" pair"));
        assertTrue(openFails(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", new byte[4]))
                .contains("shape holds 1.5"));
    }

    @Test
    void shapeWhoseSizeOverflows() throws IOException {
        String big = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}";
        assertTrue(openFails(raw(big, new byte[0])).contains("tensor w: shape is too large"));
    }

    @Test
    void tooShortAndOversizedHeaderLengths() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertTrue(openFails(tiny).contains("only 3 bytes"));

        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertTrue(openFails(huge).contains("over the 104857600-byte limit"));

        Path past = dir.resolve("past.safetensors");
        Files.write(past, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(100).array());
        assertEquals(past + ": truncated: header of 100 bytes ends at byte 108 but the file has 16", openFails(past));
    }

    @Test
    void duplicateKeysAndNonStringMetadataAreRejected() throws IOException {
        String dup = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        assertTrue(openFails(raw(dup, new byte[1])).contains("invalid JSON (Duplicate field 'w')"));
        assertTrue(openFails(raw("{\"__metadata__\":{\"n\":3}}", new byte[0])).contains("metadata value of n is not a string"));
    }

    @Test
    void missingFileAndDirectoryAreNamed() {
        Path missing = dir.resolve("missing.safetensors");
        assertEquals(missing + ": no such file", openFails(missing));
        assertTrue(openFails(dir).contains("is a directory"));
    }

    @Test
    void tensorsAreUnreadableAfterClose() {
        SafetensorsFile f = SafetensorsFile.open(writeSmallFile());
        Tensor w = f.tensor("w");
        f.close();
        f.close(); // closing twice is harmless
        assertThrows(IllegalStateException.class, () -> w.getFloat(0));
    }

    private Path writeSmallFile() {
        Path file = dir.resolve("small.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(file, Map.of("w", Tensor.ofFloats(arena, new float[] {1, 2, 3, 4}, 2, 2)), Map.of());
        }
        return file;
    }

    /** A file with {@code json} as its header and {@code data} after it. */
    private Path raw(String json, byte[] data) throws IOException {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        Path file = Files.createTempFile(dir, "raw", ".safetensors");
        Files.write(file, b.array());
        return file;
    }

    private static String openFails(Path file) {
        BitcapException e = assertThrows(BitcapException.class, () -> SafetensorsFile.open(file).close());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    /** A tensor whose bytes count up (1, 2, 3, ...), so every position is distinguishable. */
    static Tensor filled(Arena arena, DType dtype, long... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        for (long i = 0; i < t.byteSize(); i++) {
            t.data().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + 1));
        }
        return t;
    }
}
