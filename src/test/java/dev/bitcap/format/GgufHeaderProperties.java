package dev.bitcap.format;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import dev.bitcap.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/** Damaged or random GGUF files give a {@link BitcapException} or open fine: never another exception, never a hang. */
class GgufHeaderProperties {
    private static Path dir;
    private static byte[] valid;
    private static int headerLength;

    @BeforeContainer
    static void writeAValidFile() throws IOException {
        dir = Files.createTempDirectory("gguf-props");
        Path file = dir.resolve("valid.gguf");
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("general.architecture", "llama");
        meta.put("llama.block_count", 2);
        meta.put("big", Long.MAX_VALUE);
        meta.put("eps", 1e-5f);
        meta.put("flag", true);
        meta.put("tokenizer.ggml.tokens", List.of("a", "bb", "ccc"));
        meta.put("tokenizer.ggml.scores", List.of(0.5f, 1f, 2f));
        meta.put("nested", List.of(List.of(1, 2), List.of(3)));
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("token_embd.weight", SafetensorsFileTest.filled(arena, DType.F32, 3, 4));
            tensors.put("blk.0.attn_q.weight", SafetensorsFileTest.filled(arena, DType.Q8_0, 2, 32));
            tensors.put("blk.0.ffn_up.weight", SafetensorsFileTest.filled(arena, DType.Q4_0, 1, 64));
            tensors.put("output_norm.weight", SafetensorsFileTest.filled(arena, DType.F16, 4));
            GgufWriter.write(file, meta, tensors);
        }
        valid = Files.readAllBytes(file);
        try (GgufFile g = GgufFile.open(file)) {
            headerLength = (int) g.dataStart(); // mutations aim at the header: the data bytes accept anything
        }
    }

    @AfterContainer
    static void cleanUp() {
        AtomicFiles.deleteRecursivelyQuietly(dir);
    }

    @Property(tries = 200)
    void randomBytes(@ForAll @Size(max = 300) byte[] bytes) {
        openExpectingOnlyBitcapErrors(bytes);
    }

    @Property(tries = 200)
    void randomBytesAfterAValidMagicAndVersion(@ForAll @Size(max = 300) byte[] tail, @ForAll("versions") int version) {
        byte[] bytes = new byte[8 + tail.length];
        System.arraycopy(valid, 0, bytes, 0, 4);
        bytes[4] = (byte) version;
        System.arraycopy(tail, 0, bytes, 8, tail.length);
        openExpectingOnlyBitcapErrors(bytes);
    }

    @Property(tries = 400)
    void mutatedValidFiles(@ForAll("mutations") byte[] bytes) {
        openExpectingOnlyBitcapErrors(bytes);
    }

    @Provide
    Arbitrary<Integer> versions() {
        return Arbitraries.of(2, 3);
    }

    @Provide
    Arbitrary<byte[]> mutations() {
        Arbitrary<byte[]> truncated = Arbitraries.integers().between(0, valid.length).map(n -> Arrays.copyOf(valid, n));
        Arbitrary<byte[]> flipped = Combinators.combine(
                Arbitraries.integers().between(0, headerLength).list().ofMinSize(1).ofMaxSize(4),
                Arbitraries.bytes().list().ofSize(4)).as((positions, values) -> {
                    byte[] copy = valid.clone();
                    for (int i = 0; i < positions.size(); i++) {
                        copy[positions.get(i)] = values.get(i);
                    }
                    return copy;
                });
        // Bytes 0..8 of a little-endian count or length replaced by 0xFF: huge and negative values.
        Arbitrary<byte[]> saturated = Combinators.combine(
                Arbitraries.integers().between(8, headerLength - 8), Arbitraries.integers().between(1, 8))
                .as((position, width) -> {
                    byte[] copy = valid.clone();
                    Arrays.fill(copy, position, position + width, (byte) 0xFF);
                    return copy;
                });
        // A large but positive value planted anywhere in the header: counts and lengths that a naive reader would allocate.
        Arbitrary<byte[]> planted = Combinators.combine(
                Arbitraries.integers().between(8, headerLength - 8), Arbitraries.longs().between(1L << 24, 1L << 31))
                .as((position, value) -> {
                    byte[] copy = valid.clone();
                    for (int i = 0; i < 8; i++) {
                        copy[position + i] = (byte) (value >>> (8 * i));
                    }
                    return copy;
                });
        return Arbitraries.oneOf(truncated, flipped, saturated, planted);
    }

    private static void openExpectingOnlyBitcapErrors(byte[] bytes) {
        boolean opened = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> {
            Path file = Files.createTempFile(dir, "case", ".gguf");
            try {
                Files.write(file, bytes);
                try (GgufFile g = GgufFile.open(file)) {
                    for (String name : g.names()) {
                        try {
                            Tensor t = g.tensor(name);
                            if (t.elementCount() > 0) {
                                t.getFloat(0);
                                t.getFloat(t.elementCount() - 1);
                            }
                        } catch (BitcapException unreadableType) {
                            // an unknown ggml type is listed but not readable
                        }
                    }
                    g.metadata().size();
                    return true;
                } catch (BitcapException expected) {
                    return false; // the only acceptable failure
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                Files.deleteIfExists(file);
            }
        });
        Statistics.collect(opened ? "opened" : "rejected");
    }
}
