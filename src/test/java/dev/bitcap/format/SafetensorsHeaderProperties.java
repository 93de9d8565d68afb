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
import java.util.LinkedHashMap;
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

/** Damaged or random safetensors files give a {@link BitcapException} or open fine: never another exception, never a hang. */
class SafetensorsHeaderProperties {
    private static Path dir;
    private static byte[] valid;

    @BeforeContainer
    static void writeAValidFile() throws IOException {
        dir = Files.createTempDirectory("safetensors-props");
        Path file = dir.resolve("valid.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("model.embed_tokens.weight", SafetensorsFileTest.filled(arena, DType.F32, 4, 3));
            tensors.put("ids", SafetensorsFileTest.filled(arena, DType.I64, 5));
            tensors.put("half", SafetensorsFileTest.filled(arena, DType.BF16, 2, 2));
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
        }
        valid = Files.readAllBytes(file);
    }

    @AfterContainer
    static void cleanUp() {
        AtomicFiles.deleteRecursivelyQuietly(dir);
    }

    @Property(tries = 200)
    void randomBytes(@ForAll @Size(max = 300) byte[] bytes) {
        openExpectingOnlyBitcapErrors(bytes);
    }

    @Property(tries = 300)
    void mutatedValidFiles(@ForAll("mutations") byte[] bytes) {
        openExpectingOnlyBitcapErrors(bytes);
    }

    @Provide
    Arbitrary<byte[]> mutations() {
        Arbitrary<byte[]> truncated = Arbitraries.integers().between(0, valid.length)
                .map(n -> java.util.Arrays.copyOf(valid, n));
        Arbitrary<byte[]> flipped = Combinators.combine(
                Arbitraries.integers().between(0, 400).list().ofMinSize(1).ofMaxSize(6),
                Arbitraries.bytes().list().ofSize(6)).as((positions, values) -> {
                    byte[] copy = valid.clone();
                    for (int i = 0; i < positions.size(); i++) {
                        copy[Math.min(positions.get(i), copy.length - 1)] = values.get(i);
                    }
                    return copy;
                });
        // A digit changed in the JSON: shapes, offsets and the header length stay syntactically valid but wrong.
        Arbitrary<byte[]> digits = Combinators.combine(
                Arbitraries.integers().between(0, valid.length - 1), Arbitraries.chars().range('0', '9'))
                .as((position, digit) -> {
                    byte[] copy = valid.clone();
                    int p = position;
                    while (p < copy.length && (copy[p] < '0' || copy[p] > '9')) {
                        p++;
                    }
                    if (p < copy.length) {
                        copy[p] = (byte) digit.charValue();
                    }
                    return copy;
                });
        return Arbitraries.oneOf(truncated, flipped, digits);
    }

    private static void openExpectingOnlyBitcapErrors(byte[] bytes) {
        boolean opened = assertTimeoutPreemptively(Duration.ofSeconds(2), () -> {
            Path file = Files.createTempFile(dir, "case", ".safetensors");
            try {
                Files.write(file, bytes);
                try (SafetensorsFile f = SafetensorsFile.open(file)) {
                    for (String name : f.names()) {
                        Tensor t = f.tensor(name);
                        if (t.elementCount() > 0) {
                            t.getFloat(0);
                            t.getFloat(t.elementCount() - 1);
                        }
                    }
                    f.metadata().size();
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
