package dev.bitcap.format;

import dev.bitcap.tensor.Tensor;
import java.util.Set;

/**
 * The named tensors of one checkpoint, memory-mapped. Tensors handed out stay valid until {@link #close()},
 * which unmaps the file(s); touching a tensor after that throws {@link IllegalStateException}.
 */
public interface TensorSource extends AutoCloseable {
    /** All tensor names, sorted. */
    Set<String> names();

    boolean contains(String name);

    /** The tensor called {@code name}; a {@link dev.bitcap.BitcapException} "FILE: no tensor NAME" if absent. */
    Tensor tensor(String name);

    @Override
    void close();
}
