package dev.bitcap.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentsTest {
    @TempDir
    Path dir;

    @Test
    void mappedWeightsReachTheKernelsAsThePlainNativeClass() throws IOException {
        Path file = dir.resolve("w.bin");
        float[] values = {1.5f, -2f, 0.25f, 8f, -0.5f, 3f};
        MemorySegment src = MemorySegment.ofArray(values);
        byte[] bytes = src.toArray(ValueLayout.JAVA_BYTE);
        Files.write(file, bytes);
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(file)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes.length, arena);
            assertTrue(mapped.isMapped());
            Tensor t = new Tensor(DType.F32, mapped, 2, 3);
            MemorySegment allocated = Tensor.allocate(arena, DType.F32, 2, 3).data();
            // one segment class for every weight: a kernel that meets two is recompiled past C2's inlining budget
            assertSame(allocated.getClass(), t.data().getClass());
            assertFalse(t.data().isMapped());
            assertEquals(mapped.address(), t.data().address());
            assertTrue(t.data().isReadOnly(), "a read-only mapping stays read-only");
            assertArrayEquals(values, t.toFloatArray());
        }
    }

    @Test
    void theViewKeepsTheMappingsLifetime() throws IOException {
        Path file = dir.resolve("w.bin");
        Files.write(file, new byte[16]);
        Tensor t;
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(file)) {
            t = new Tensor(DType.F32, ch.map(FileChannel.MapMode.READ_ONLY, 0, 16, arena), 4);
            assertEquals(0f, t.toFloatArray()[3]);
        }
        assertThrows(IllegalStateException.class, t::toFloatArray, "closing the arena unmaps the file: no access after");
    }

    @Test
    void allocatedAndHeapSegmentsAreLeftAsTheyAre() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment allocated = arena.allocate(8);
            assertSame(allocated, Segments.uniform(allocated));
        }
        MemorySegment heap = MemorySegment.ofArray(new float[2]);
        assertSame(heap, Segments.uniform(heap));
    }
}
