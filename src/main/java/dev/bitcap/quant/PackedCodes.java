package dev.bitcap.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The packed code layout shared by the CPU kernels and the (future) CUDA kernels.
 * <p>
 * Each row of {@code cols} codes is padded to a multiple of 32 with the code that decodes nearest to 0 under the
 * row's last group ({@code format.encode(0)}). Every 32 codes form a <em>unit</em> of {@code b} little-endian
 * 32-bit words, i.e. {@code 4*b} bytes, for code width b; a row is {@code cols32/32} units back to back and row r
 * starts at byte {@code r * unitsPerRow * 4 * b}. Within a unit, with c_j the j-th code (j = 0..31):
 * <ul>
 * <li>b = 8 (32 bytes): byte j = c_j.</li>
 * <li>b = 4 (16 bytes): byte k (k = 0..15) = c_k | c_{k+16} << 4. The low nibbles are codes 0..15 and the high
 *     nibbles codes 16..31, so one 16-byte load widened to 16 lanes and masked or shifted by 4 gives codes in
 *     their natural order.</li>
 * <li>b = 2 (8 bytes): byte k (k = 0..7) holds c_k, c_{k+8}, c_{k+16}, c_{k+24} at bit offsets 0, 2, 4, 6.</li>
 * <li>b = 3 (12 bytes): bytes 0..7 hold the low two bits of every code exactly as the 2-bit unit does; bytes
 *     8..11 are one little-endian 32-bit word whose bit j is bit 2 of c_j.</li>
 * </ul>
 * A 32-lane warp (CUDA) reads a unit as b words; lane j finds its code at a fixed place in every layout.
 * The group parameters live apart from the codes: fp16 (little-endian), {@code [rows][groups][paramCount]}.
 * Groups start on unit boundaries because the group size is a multiple of 32 (or the whole row).
 */
public final class PackedCodes {
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private PackedCodes() {}

    /** {@code cols} rounded up to a multiple of 32. */
    public static long paddedCols(int cols) {
        return (cols + 31L) / 32 * 32;
    }

    public static int unitsPerRow(int cols) {
        return (cols + 31) / 32;
    }

    public static long rowBytes(int bits, int cols) {
        return unitsPerRow(cols) * 4L * bits;
    }

    static void checkBits(int bits) {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8) throw new IllegalArgumentException("no packed layout for " + bits + "-bit codes");
    }

    /** Writes the codes of {@code q} in this layout into {@code out} (at least {@code rows * rowBytes} bytes). */
    static void pack(GroupQuantized q, MemorySegment out) {
        int bits = q.format().codeBits(), cols = q.cols(), units = unitsPerRow(cols);
        checkBits(bits);
        long rowBytes = rowBytes(bits, cols);
        int[] unit = new int[32];
        int pc = q.format().paramCount();
        for (int r = 0; r < q.rows(); r++) {
            int pad = q.format().encode(0f, q.params(), (r * q.groups() + q.groups() - 1) * pc);
            for (int u = 0; u < units; u++) {
                for (int j = 0; j < 32; j++) {
                    int c = u * 32 + j;
                    int code = c < cols ? q.codes()[r * cols + c] : pad;
                    if (code < 0 || code >= 1 << bits) throw new IllegalArgumentException("code " + code + " does not fit " + bits + " bits");
                    unit[j] = code;
                }
                writeUnit(bits, unit, out, r * rowBytes + u * 4L * bits);
            }
        }
    }

    static void writeUnit(int bits, int[] c, MemorySegment out, long off) {
        switch (bits) {
            case 8 -> {
                for (int j = 0; j < 32; j++) out.set(ValueLayout.JAVA_BYTE, off + j, (byte) c[j]);
            }
            case 4 -> {
                for (int k = 0; k < 16; k++) out.set(ValueLayout.JAVA_BYTE, off + k, (byte) (c[k] | c[k + 16] << 4));
            }
            case 2, 3 -> {
                for (int k = 0; k < 8; k++) {
                    int v = (c[k] & 3) | (c[k + 8] & 3) << 2 | (c[k + 16] & 3) << 4 | (c[k + 24] & 3) << 6;
                    out.set(ValueLayout.JAVA_BYTE, off + k, (byte) v);
                }
                if (bits == 3) {
                    int high = 0;
                    for (int j = 0; j < 32; j++) high |= (c[j] >> 2 & 1) << j;
                    out.set(I32, off + 8, high);
                }
            }
            default -> throw new IllegalArgumentException("no packed layout for " + bits + "-bit codes");
        }
    }

    /** Code {@code col} of the row starting at byte {@code rowOff}. */
    static int code(MemorySegment codes, int bits, long rowOff, int col) {
        long off = rowOff + (long) (col >>> 5) * 4 * bits;
        int j = col & 31;
        return switch (bits) {
            case 8 -> Byte.toUnsignedInt(codes.get(ValueLayout.JAVA_BYTE, off + j));
            case 4 -> {
                int b = codes.get(ValueLayout.JAVA_BYTE, off + (j & 15));
                yield j < 16 ? b & 15 : b >> 4 & 15;
            }
            case 2 -> codes.get(ValueLayout.JAVA_BYTE, off + (j & 7)) >> 2 * (j >> 3) & 3;
            case 3 -> (codes.get(ValueLayout.JAVA_BYTE, off + (j & 7)) >> 2 * (j >> 3) & 3)
                    | (codes.get(I32, off + 8) >>> j & 1) << 2;
            default -> throw new IllegalArgumentException("no packed layout for " + bits + "-bit codes");
        };
    }
}
