package dev.bitcap.format;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * Reads little-endian values from a mapped file in order, checking each read against the end of the file
 * so that a damaged header gives a {@link BitcapException} naming the file, never an out-of-bounds error.
 */
final class SegmentReader {
    private final String fileName;
    private final MemorySegment segment;
    private long position;

    SegmentReader(String fileName, MemorySegment segment, long position) {
        this.fileName = fileName;
        this.segment = segment;
        this.position = position;
    }

    long position() {
        return position;
    }

    long remaining() {
        return segment.byteSize() - position;
    }

    /** Fails unless {@code bytes} more bytes are there for {@code what}. */
    void require(long bytes, String what) {
        if (bytes < 0 || bytes > remaining()) {
            throw new BitcapException(fileName + ": truncated: " + what + " at byte " + position + " needs "
                    + (bytes < 0 ? "an impossible number of" : String.valueOf(bytes)) + " bytes but the file has "
                    + segment.byteSize());
        }
    }

    int u8(String what) {
        require(1, what);
        int v = segment.get(ValueLayout.JAVA_BYTE, position) & 0xFF;
        position += 1;
        return v;
    }

    int i16(String what) {
        require(2, what);
        int v = segment.get(Tensor.I16_LE, position);
        position += 2;
        return v;
    }

    int i32(String what) {
        require(4, what);
        int v = segment.get(Tensor.I32_LE, position);
        position += 4;
        return v;
    }

    long i64(String what) {
        require(8, what);
        long v = segment.get(Tensor.I64_LE, position);
        position += 8;
        return v;
    }

    float f32(String what) {
        return Float.intBitsToFloat(i32(what));
    }

    double f64(String what) {
        return Double.longBitsToDouble(i64(what));
    }

    /** {@code length} bytes decoded as UTF-8 (malformed bytes become U+FFFD). */
    String utf8(long length, String what) {
        require(length, what);
        if (length > Integer.MAX_VALUE - 8) {
            throw new BitcapException(fileName + ": " + what + " at byte " + position + " is " + length + " bytes long");
        }
        byte[] bytes = segment.asSlice(position, length).toArray(ValueLayout.JAVA_BYTE);
        position += length;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    void skip(long bytes, String what) {
        require(bytes, what);
        position += bytes;
    }
}
