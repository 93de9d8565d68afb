package dev.bitcap.tensor;

import java.lang.foreign.MemorySegment;

/** Memory segments in the form the kernels expect. */
public final class Segments {
    private Segments() {}

    /**
     * The same memory, scope and access mode, as a plain native segment when it is a file mapping. C2 compiles a
     * kernel for the segment classes it has met; once a kernel has seen both mapped and allocated segments it grows
     * past the inlining budget and boxes its vectors for the rest of the process (measured on the int4 GEMV: 16.4
     * G weights/s down to 2.4, the allocated tensor included). One class keeps every kernel on its fast form.
     */
    public static MemorySegment uniform(MemorySegment s) {
        return s.isNative() && s.isMapped() ? s.reinterpret(s.byteSize()) : s;
    }
}
