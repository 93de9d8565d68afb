package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryMetadataTypeAndArrays() {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("general.architecture", "llama");
        meta.put("i8", (byte) -7);
        meta.put("i16", (short) -300);
        meta.put("u32", 123);
        meta.put("i32", -5);
        meta.put("u64", Long.MAX_VALUE);
        meta.put("i64", -1L);
        meta.put("f32", 1.5f);
        meta.put("f64", Math.PI);
        meta.put("yes", true);
        meta.put("no", false);
        meta.put("unicode", "日本語 ✓");
        meta.put("tokens", List.of("<unk>", "<s>", "</s>", ""));
        meta.put("scores", List.of(0f, -1.25f, 3.5f));
        meta.put("ids", List.of(1, -2, 3));
        meta.put("longs", List.of(5L, 6L));
        meta.put("flags", List.of(true, false));
        meta.put("nested", List.of(List.of(1L, 2L), List.of("x")));
        meta.put("empty", List.of());
        Path file = dir.resolve("meta.gguf");
        GgufWriter.write(file, meta, Map.of());

        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(3, g.version());
            Map<String, Object> m = g.metadata();
            assertEquals(List.copyOf(meta.keySet()), List.copyOf(m.keySet()));
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(-7L, m.get("i8"));
            assertEquals(-300L, m.get("i16"));
            assertEquals(123L, g.getLong("u32"));
            assertEquals(-5L, g.getLong("i32"));
            assertEquals(Long.MAX_VALUE, g.getLong("u64"));
            assertEquals(-1L, g.getLong("i64"));
            assertEquals(1.5, m.get("f32"));
            assertEquals(Math.PI, g.getDouble("f64", 0));
            assertEquals(true, m.get("yes"));
            assertEquals(false, m.get("no"));
            assertEquals("日本語 ✓", g.getString("unicode"));
            assertEquals(List.of("<unk>", "<s>", "</s>", ""), g.getArray("tokens"));
            assertEquals(List.of(0.0, -1.25, 3.5), g.getArray("scores"));
            assertEquals(List.of(1L, -2L, 3L), g.getArray("ids"));
            assertEquals(List.of(5L, 6L), g.getArray("longs"));
            assertEquals(List.of(true, false), g.getArray("flags"));
            assertEquals(List.of(List.of(1L, 2L), List.of("x")), g.getArray("nested"));
            assertEquals(List.of(), g.getArray("empty"));
            assertTrue(g.names().isEmpty());
        }
    }

    /** llama.cpp insists on uint32 for keys such as block_count, so non-negative Integers are written as uint32. */
    @Test
    void integersAreStoredWithTheTypesLlamaCppExpects() throws IOException {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("n", 5);
        meta.put("m", -5);
        meta.put("f", 0.5f);
        Path file = dir.resolve("types.gguf");
        GgufWriter.write(file, meta, Map.of());
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int entry = 8 + 1 + 4 + 4; // key length, one-letter key, type, 4-byte value
        assertEquals(4, b.getInt(24 + 9), "uint32");
        assertEquals(5, b.getInt(24 + 9 + 4));
        assertEquals(5, b.getInt(24 + entry + 9), "int32");
        assertEquals(-5, b.getInt(24 + entry + 9 + 4));
        assertEquals(6, b.getInt(24 + 2 * entry + 9), "float32");
    }

    @Test
    void typedGettersExplainMissingAndMistypedKeys() {
        Path file = dir.resolve("g.gguf");
        GgufWriter.write(file, Map.of("n", 5, "s", "text"), Map.of());
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(file + ": missing metadata key absent",
                    assertThrows(BitcapException.class, () -> g.getString("absent")).getMessage());
            assertEquals(file + ": metadata key n is an integer, expected a string",
                    assertThrows(BitcapException.class, () -> g.getString("n")).getMessage());
            assertEquals(file + ": metadata key s is a string, expected an integer",
                    assertThrows(BitcapException.class, () -> g.getLong("s", 1)).getMessage());
            assertEquals(file + ": missing metadata key absent",
                    assertThrows(BitcapException.class, () -> g.getLong("absent")).getMessage());
            assertEquals(9, g.getLong("absent", 9));
            assertEquals(5.0, g.getDouble("n", 0));
            assertEquals(0.25, g.getDouble("absent", 0.25));
            assertNull(g.getArray("absent"));
            assertThrows(BitcapException.class, () -> g.getArray("s"));
        }
    }

    @Test
    void roundTripsTensorsOfEveryGgmlTypeWithShapesOutermostFirst() {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("f32", Tensor.ofFloats(arena, new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
            tensors.put("f16", SafetensorsFileTest.filled(arena, DType.F16, 3, 5));
            tensors.put("bf16", SafetensorsFileTest.filled(arena, DType.BF16, 7));
            tensors.put("q8", q8Tensor(arena));
            tensors.put("q4", SafetensorsFileTest.filled(arena, DType.Q4_0, 2, 64));
            tensors.put("i8", SafetensorsFileTest.filled(arena, DType.I8, 2, 2, 2));
            tensors.put("i16", SafetensorsFileTest.filled(arena, DType.I16, 1, 1, 1, 3));
            tensors.put("i32", SafetensorsFileTest.filled(arena, DType.I32, 4));
            tensors.put("i64", SafetensorsFileTest.filled(arena, DType.I64, 2));
            for (int alignment : new int[] {32, 64, 1}) {
                Path file = dir.resolve("t" + alignment + ".gguf");
                Map<String, Object> meta = alignment == 32 ? Map.of() : Map.of("general.alignment", alignment);
                GgufWriter.write(file, meta, tensors);
                try (GgufFile g = GgufFile.open(file)) {
                    assertEquals(tensors.keySet(), g.names());
                    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                        Tensor back = g.tensor(e.getKey());
                        assertEquals(e.getValue().dtype(), back.dtype(), e.getKey());
                        assertArrayEquals(e.getValue().shape(), back.shape(), e.getKey());
                        assertEquals(-1, e.getValue().data().mismatch(back.data()), e.getKey());
                        assertEquals(0, back.data().address() % alignment, e.getKey() + " is aligned");
                    }
                    assertEquals(-1.5f, g.tensor("q8").getFloat(0));
                    assertEquals(14f, g.tensor("q8").getFloat(31));
                }
            }
        }
    }

    @Test
    void readsVersionTwoAndStoresShapesInnermostFirst() throws IOException {
        Path file = RawGguf.header(2, 1, 1).kvU32("general.alignment", 16)
                .tensorInfo("w", new long[] {3, 2}, 0, 0).pad(16)
                .u32(Float.floatToIntBits(1)).u32(Float.floatToIntBits(2)).u32(Float.floatToIntBits(3))
                .u32(Float.floatToIntBits(4)).u32(Float.floatToIntBits(5)).u32(Float.floatToIntBits(6))
                .writeTo(dir.resolve("v2.gguf"));
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(2, g.version());
            Tensor w = g.tensor("w");
            assertArrayEquals(new long[] {2, 3}, w.shape());
            assertEquals(6f, w.getFloat(1 * 3 + 2));
        }
    }

    @Test
    void badMagic() throws IOException {
        Path file = Files.write(dir.resolve("x.gguf"), "GGMLxxxxxxxxxxxxxxxxxxxx".getBytes());
        assertEquals(file + ": not a GGUF file (bad magic 0x4C4D4747)", openFails(file));
        Path tiny = Files.write(dir.resolve("tiny.gguf"), new byte[] {'G', 'G'});
        assertEquals(tiny + ": not a GGUF file (only 2 bytes)", openFails(tiny));
    }

    @Test
    void unsupportedVersions() throws IOException {
        String v1 = openFails(RawGguf.header(1, 0, 0).writeTo(dir.resolve("v1.gguf")));
        assertTrue(v1.endsWith(": unsupported GGUF version 1; bitcap reads versions 2 and 3"), v1);
        String v4 = openFails(RawGguf.header(4, 0, 0).writeTo(dir.resolve("v4.gguf")));
        assertTrue(v4.contains("unsupported GGUF version 4;"), v4);
        String bigEndian = openFails(RawGguf.header(3 << 24, 0, 0).writeTo(dir.resolve("be.gguf")));
        assertTrue(bigEndian.contains("version 50331648 (a big-endian file?)"), bigEndian);
    }

    @Test
    void unknownTensorTypeIsListedButNotReadable() throws IOException {
        Path file = RawGguf.header(3, 2, 0)
                .tensorInfo("blk.0.attn_q.weight", new long[] {256, 2}, 12, 0)
                .tensorInfo("norm", new long[] {4}, 0, 288)
                .pad(32).zeros(288 + 16).writeTo(dir.resolve("k.gguf"));
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(List.of("blk.0.attn_q.weight", "norm"), List.copyOf(g.names()));
            assertEquals(4, g.tensor("norm").elementCount());
            BitcapException e = assertThrows(BitcapException.class, () -> g.tensor("blk.0.attn_q.weight"));
            assertEquals(file + ": tensor blk.0.attn_q.weight has ggml type 12 (Q4_K), which bitcap cannot read", e.getMessage());
            BitcapException odd = assertThrows(BitcapException.class, () -> g.tensor("missing"));
            assertEquals(file + ": no tensor missing", odd.getMessage());
        }
        Path unnamed = RawGguf.header(3, 1, 0).tensorInfo("t", new long[] {1}, 777, 0).pad(32)
                .writeTo(dir.resolve("u.gguf"));
        try (GgufFile g = GgufFile.open(unnamed)) {
            assertTrue(assertThrows(BitcapException.class, () -> g.tensor("t")).getMessage()
                    .endsWith("tensor t has ggml type 777, which bitcap cannot read"));
        }
    }

    @Test
    void truncatedTensorData() throws IOException {
        Path file = dir.resolve("full.gguf");
        try (Arena arena = Arena.ofConfined()) {
            GgufWriter.write(file, Map.of("general.name", "t"),
                    Map.of("w", Tensor.ofFloats(arena, new float[] {1, 2, 3, 4}, 4)));
        }
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 3));
        assertEquals(file + ": truncated: tensor w ends at byte " + bytes.length + " but the file has " + (bytes.length - 3),
                openFails(file));
    }

    @Test
    void truncatedHeader() throws IOException {
        byte[] full = RawGguf.header(3, 0, 1).str("general.name").u32(8).str("a model").bytes();
        Path file = Files.write(dir.resolve("h.gguf"), Arrays.copyOf(full, full.length - 2));
        String message = openFails(file);
        assertTrue(message.startsWith(file + ": truncated: value of metadata key general.name at byte"), message);
    }

    @Test
    void implausibleCountsAndLengthsFailBeforeAllocating() throws IOException {
        assertTrue(openFails(RawGguf.header(3, 0, Long.MAX_VALUE).writeTo(dir.resolve("a.gguf")))
                .contains("header claims 9223372036854775807 metadata entries"));
        assertTrue(openFails(RawGguf.header(3, -1L, 0).writeTo(dir.resolve("b.gguf")))
                .contains("header claims 18446744073709551615 tensor infos"));
        assertTrue(openFails(RawGguf.header(3, 0, 1).u64(1L << 40).zeros(16).writeTo(dir.resolve("c.gguf")))
                .contains("truncated: metadata key at byte 32 needs 1099511627776 bytes"));
        assertTrue(openFails(RawGguf.header(3, 0, 1).str("arr").u32(9).u32(4).u64(1L << 50).writeTo(dir.resolve("d.gguf")))
                .contains("value of metadata key arr claims 1125899906842624 elements"));
        assertTrue(openFails(RawGguf.header(3, 0, 1).str("k").u32(99).u32(0).writeTo(dir.resolve("e.gguf")))
                .contains("value of metadata key k has unknown type 99"));
    }

    @Test
    void deeplyNestedArraysAreRejected() throws IOException {
        RawGguf raw = RawGguf.header(3, 0, 1).str("deep").u32(9);
        for (int i = 0; i < 20; i++) {
            raw.u32(9).u64(1);
        }
        raw.u32(4).u64(0);
        assertTrue(openFails(raw.writeTo(dir.resolve("deep.gguf"))).contains("is nested more than 8 deep"));
    }

    @Test
    void badAlignmentMisalignedOffsetsDuplicatesAndTooManyDimensions() throws IOException {
        assertTrue(openFails(RawGguf.header(3, 0, 1).kvU32("general.alignment", 24).writeTo(dir.resolve("a.gguf")))
                .contains("general.alignment is 24, expected a power of two"));
        assertTrue(openFails(RawGguf.header(3, 1, 0).tensorInfo("w", new long[] {1}, 0, 4).pad(32).zeros(64)
                .writeTo(dir.resolve("b.gguf"))).contains("tensor w offset 4 is not a multiple of the alignment 32"));
        assertTrue(openFails(RawGguf.header(3, 2, 0).tensorInfo("w", new long[] {1}, 0, 0).tensorInfo("w", new long[] {1}, 0, 32)
                .pad(32).zeros(64).writeTo(dir.resolve("c.gguf"))).contains("tensor w appears twice"));
        assertTrue(openFails(RawGguf.header(3, 0, 2).kvU32("k", 1).kvU32("k", 2).writeTo(dir.resolve("d.gguf")))
                .contains("metadata key k appears twice"));
        assertTrue(openFails(RawGguf.header(3, 1, 0).tensorInfo("w", new long[] {1, 1, 1, 1, 1}, 0, 0).pad(32).zeros(4)
                .writeTo(dir.resolve("e.gguf"))).contains("tensor w has 5 dimensions; GGUF allows at most 4"));
        assertTrue(openFails(RawGguf.header(3, 1, 0).tensorInfo("q", new long[] {16, 2}, 8, 0).pad(32).zeros(64)
                .writeTo(dir.resolve("f.gguf"))).contains("tensor q rows of 16 elements are not whole Q8_0 blocks of 32"));
    }

    @Test
    void writerRejectsWhatGgufCannotHold() {
        try (Arena arena = Arena.ofConfined()) {
            Path file = dir.resolve("w.gguf");
            assertTrue(assertThrows(BitcapException.class, () -> GgufWriter.write(file, Map.of(),
                    Map.of("u", SafetensorsFileTest.filled(arena, DType.U8, 3)))).getMessage().contains("cannot hold U8 tensor u"));
            assertTrue(assertThrows(BitcapException.class, () -> GgufWriter.write(file, Map.of(),
                    Map.of("q", SafetensorsFileTest.filled(arena, DType.Q8_0, 2, 16)))).getMessage()
                    .contains("rows of 16 elements are not whole Q8_0 blocks"));
            assertThrows(IllegalArgumentException.class, () -> GgufWriter.write(file, Map.of("x", new Object()), Map.of()));
            assertThrows(IllegalArgumentException.class, () -> GgufWriter.write(file, Map.of("x", List.of(1, "a")), Map.of()));
            assertFalse(Files.exists(file));
        }
    }

    /** One Q8_0 block: scale 0.5, quants -3..28. */
    private static Tensor q8Tensor(Arena arena) {
        Tensor t = Tensor.allocate(arena, DType.Q8_0, 32);
        t.data().set(Tensor.I16_LE, 0, Float.floatToFloat16(0.5f));
        for (int j = 0; j < 32; j++) {
            t.data().set(ValueLayout.JAVA_BYTE, 2 + j, (byte) (j - 3));
        }
        return t;
    }

    private static String openFails(Path file) {
        BitcapException e = assertThrows(BitcapException.class, () -> GgufFile.open(file).close());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }
}
