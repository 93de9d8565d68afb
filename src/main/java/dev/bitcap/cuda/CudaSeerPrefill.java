package dev.bitcap.cuda;

import dev.bitcap.attention.BlockSelection;
import dev.bitcap.attention.SeerGate;

/**
 * SeerAttention prefill inside {@link CudaBackend}: per layer, the gate chooses key blocks from the pass's Q and K
 * before RoPE, and the tensor-core kernel attends over them. The backend's fp32 activations are rounded to fp16 on
 * the way in (the kernel's input type); the output is fp32. It serves a pass of one sequence that starts at position
 * 0 (a prompt, or a perplexity window); other passes, and decode, keep the backend's dense attention. The kernel
 * and the gate's picker are the measured defaults unless $BITCAP_PREFILL_KERNEL or $BITCAP_GATE_PICKER name a variant.
 */
final class CudaSeerPrefill {
    private final CudaDevice device;
    private final CudaSparseAttention attention;
    private final CudaSeerGate gate;
    private final BlockSelection selection;
    private final int heads, kvHeads, qDim, kvDim;
    private long gateQ, gateK, q, k, v, counts, lists;
    private int capacity;

    /** Environment variables that choose another kernel (base|wide|swizzled) or picker (sort|radix) than the defaults. */
    static final String KERNEL_ENV = "BITCAP_PREFILL_KERNEL", PICKER_ENV = "BITCAP_GATE_PICKER";

    CudaSeerPrefill(CudaDevice device, SeerGate gate, BlockSelection selection) {
        this(device, gate, selection, kernelFrom(System.getenv(KERNEL_ENV)), pickerFrom(System.getenv(PICKER_ENV)));
    }

    CudaSeerPrefill(CudaDevice device, SeerGate gate, BlockSelection selection, CudaSparseAttention.Kernel kernel, CudaSeerGate.Picker picker) {
        SeerGate.Shape s = gate.shape();
        this.device = device;
        this.attention = new CudaSparseAttention(device, s.headDim(), false, kernel);
        this.gate = new CudaSeerGate(device, gate, false, picker);
        this.selection = selection;
        this.heads = s.heads();
        this.kvHeads = s.kvHeads();
        this.qDim = s.heads() * s.headDim();
        this.kvDim = s.kvHeads() * s.headDim();
    }

    /** The prefill kernel an environment value names; unset or blank: the measured default. */
    static CudaSparseAttention.Kernel kernelFrom(String value) {
        return value == null || value.isBlank() ? CudaSparseAttention.Kernel.DEFAULT : CudaSparseAttention.Kernel.parse(value);
    }

    /** The gate picker an environment value names; unset or blank: the measured default. */
    static CudaSeerGate.Picker pickerFrom(String value) {
        return value == null || value.isBlank() ? CudaSeerGate.Picker.DEFAULT : CudaSeerGate.Picker.parse(value);
    }

    /** Whether a pass of these sequences' lengths before it and its token count takes the sparse path. */
    static boolean serves(int sequences, int startLength, int tokens) {
        return sequences == 1 && startLength == 0 && tokens > 1;
    }

    private void ensure(int n) {
        if (n <= capacity) return;
        for (long p : new long[] {gateQ, gateK, q, k, v, counts, lists}) if (p != 0) device.free(p);
        capacity = n;
        gateQ = device.alloc(2L * n * qDim);
        gateK = device.alloc(2L * n * kvDim);
        q = device.alloc(2L * n * qDim);
        k = device.alloc(2L * n * kvDim);
        v = device.alloc(2L * n * kvDim);
        counts = device.alloc(4L * heads * CudaSparseAttention.blocks(n));
        lists = device.alloc(4L * CudaSparseAttention.listInts(n, heads));
    }

    /** The gate's weights on the device (the decode gate shares them). */
    CudaSeerGate weights() {
        return gate;
    }

    /** Keeps fp16 copies of the layer's Q [n][qDim] and K [n][kvDim] before RoPE, for the gate. */
    void gateInputs(long qPre, long kPre, int n) {
        ensure(n);
        attention.toHalf(qPre, gateQ, n, qDim, qDim);
        attention.toHalf(kPre, gateK, n, kvDim, kvDim);
    }

    /** out [n][qDim] = block-sparse causal attention of the rotated qRot over kRot, vals (positions 0..n-1). */
    void attend(int layer, long qRot, long kRot, long vals, long out, int n) {
        attention.toHalf(qRot, q, n, qDim, qDim);
        attention.toHalf(kRot, k, n, kvDim, kvDim);
        attention.toHalf(vals, v, n, kvDim, kvDim);
        gate.select(layer, gateQ, gateK, n, qDim, kvDim, selection, counts, lists);
        attention.prefill(q, k, v, out, counts, lists, n, heads, kvHeads, qDim, kvDim, qDim);
    }
}
