package dev.bitcap.tensor;

/**
 * Element types of tensors. Block-quantized types (GGML's Q8_0 and Q4_0) store {@code blockSize}
 * elements in {@code blockBytes} bytes; plain types have a block of one element.
 */
public enum DType {
    F32(1, 4),
    F16(1, 2),
    BF16(1, 2),
    I8(1, 1),
    U8(1, 1),
    I16(1, 2),
    I32(1, 4),
    I64(1, 8),
    /** GGML Q8_0: per block of 32, an fp16 scale then 32 signed bytes. */
    Q8_0(32, 34),
    /** GGML Q4_0: per block of 32, an fp16 scale then 16 bytes; low nibbles are elements 0..15, high 16..31, offset 8. */
    Q4_0(32, 18);

    private final int blockSize;
    private final int blockBytes;

    DType(int blockSize, int blockBytes) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    public int blockSize() {
        return blockSize;
    }

    public int blockBytes() {
        return blockBytes;
    }

    public boolean isBlockQuantized() {
        return blockSize > 1;
    }

    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** Bytes needed for {@code elements} elements; block types need a whole number of blocks. */
    public long byteSize(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs a multiple of " + blockSize + " elements, got " + elements);
        }
        return elements / blockSize * blockBytes;
    }

    /** Bits per element with block metadata counted (e.g. Q4_0: 4.5). */
    public double bitsPerElement() {
        return 8.0 * blockBytes / blockSize;
    }
}
