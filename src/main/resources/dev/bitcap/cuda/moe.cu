// variants: -DMOE=1
// Mixture-of-experts on the device, launched by dev.bitcap.cuda.CudaMoe: routing (softmax, top-k, optional
// renormalisation), the per-expert token lists, expert-indexed GEMVs that read each chosen expert's weights from a
// table of device pointers, and the weighted sum back into the residual. Nothing goes back to the host, so a decode
// step with MoE layers can be captured as a CUDA graph. The steps follow the CPU backend's
// (engine/ExpertRouting, engine/CpuFeedForward.moe) so that both choose the same experts.

#define MAX_K 16 // experts per token (CudaMoe.MAX_K)
#define TOKENS_PER_PASS 4 // activation rows an expert GEMV computes per read of a weight row

__device__ __forceinline__ float half_to_float(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

// Routes n tokens (one block). probs: router logits [n][E], overwritten by the softmax. Writes, token-major:
// chosen[n*k] expert ids (largest first, lower id first on ties, as TopK.select), weight[n*k]; per expert
// counts[E] and offsets[E+1]; the list of entries grouped by expert in token order, listTok (each entry's token
// row); and slotOf[n*k] = where choice i sits in the list.
extern "C" __global__ void moe_route(float* __restrict__ probs, int n, int E, int k, int normTopK, int* __restrict__ chosen,
        float* __restrict__ weight, int* __restrict__ counts, int* __restrict__ offsets, int* __restrict__ listTok,
        int* __restrict__ slotOf) {
    for (int t = threadIdx.x; t < n; t += blockDim.x) {
        float* p = probs + (size_t) t * E;
        float mx = __int_as_float(0xff800000); // -inf (NVRTC has no math headers, so no INFINITY)
        for (int i = 0; i < E; i++) mx = fmaxf(mx, p[i]);
        float sum = 0.0f;
        for (int i = 0; i < E; i++) {
            const float e = (float) exp((double) (p[i] - mx)); // the CPU's Math.exp in double, rounded to float
            p[i] = e;
            sum = __fadd_rn(sum, e);
        }
        const float inv = __fdiv_rn(1.0f, sum);
        int idx[MAX_K];
        float val[MAX_K];
        int filled = 0;
        for (int i = 0; i < E; i++) {
            const float v = __fmul_rn(p[i], inv);
            p[i] = v;
            if (filled == k && !(v > val[k - 1])) continue;
            int pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && v > val[pos - 1]) {
                val[pos] = val[pos - 1];
                idx[pos] = idx[pos - 1];
                pos--;
            }
            val[pos] = v;
            idx[pos] = i;
        }
        float s = 0.0f;
        for (int j = 0; j < k; j++) s = __fadd_rn(s, val[j]);
        for (int j = 0; j < k; j++) {
            chosen[t * k + j] = idx[j];
            weight[t * k + j] = normTopK ? __fdiv_rn(val[j], s) : val[j];
        }
    }
    __syncthreads();
    const int total = n * k;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int c = 0;
        for (int i = 0; i < total; i++) c += chosen[i] == e;
        counts[e] = c;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int o = 0;
        for (int e = 0; e < E; e++) {
            offsets[e] = o;
            o += counts[e];
        }
        offsets[E] = o;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int pos = offsets[e];
        for (int i = 0; i < total; i++) {
            if (chosen[i] != e) continue;
            listTok[pos] = i / k;
            slotOf[i] = pos++;
        }
    }
}

// Code `lane` (0..31) of the packed unit at `unit` (quant/PackedCodes.java): each lane loads the one 32-bit word
// that holds its code (two for 3 bits), so a warp reads a unit in one coalesced access and gets its codes in order.
template <int BITS>
__device__ __forceinline__ int lane_code(const unsigned int* __restrict__ unit, int lane) {
    if (BITS == 8) return (unit[lane >> 2] >> (8 * (lane & 3))) & 0xff;
    if (BITS == 4) {
        const int b = lane & 15; // byte b holds codes b (low nibble) and b + 16 (high nibble)
        return (unit[b >> 2] >> (8 * (b & 3) + (lane >= 16 ? 4 : 0))) & 15;
    }
    const int b = lane & 7; // byte b holds codes b, b + 8, b + 16, b + 24 at bits 0, 2, 4, 6
    int c = (unit[b >> 2] >> (8 * (b & 3) + 2 * (lane >> 3))) & 3;
    if (BITS == 3) c |= ((unit[2] >> lane) & 1) << 2;
    return c;
}

// The input row of list entry `entry`: a token row of x (gather) or the entry's own row.
__device__ __forceinline__ const float* input_row(const float* x, const int* listTok, int gather, int entry, int cols) {
    return x + (size_t) (gather ? listTok[entry] : entry) * cols;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// y[entry][row] = W_e[row] . input(entry) for every list entry of expert e = blockIdx.y, packed weights.
// Pointer tables: codes[e], params[e] (fp16 [rows][groups][paramCount]), inScale[e] (0: none). table: the format's
// decode table, a[2^BITS] then b[2^BITS]. A code decodes to (a[c] - p1) * p0 with a zero point, else
// b[c] * p1 + a[c] * p0 (p1 = 0 for one-parameter formats). Block: 4 warps, one weight row each; the warp walks the
// row unit by unit, lane j taking code j, so the activations are read coalesced too.
template <int BITS>
__device__ void gemv_packed(const unsigned long long* __restrict__ codes, const unsigned long long* __restrict__ params,
        const unsigned long long* __restrict__ inScale, const float* __restrict__ table, const int* __restrict__ counts,
        const int* __restrict__ offsets, const int* __restrict__ listTok, int gather, const float* __restrict__ x,
        float* __restrict__ y, int rows, int cols, int unitsPerGroup, int groups, int paramCount, int zeroPoint) {
    const int e = blockIdx.y, count = counts[e];
    if (count == 0) return; // no token chose this expert
    __shared__ float ta[1 << BITS], tb[1 << BITS];
    for (int i = threadIdx.x; i < (1 << BITS); i += blockDim.x) {
        ta[i] = table[i];
        tb[i] = table[(1 << BITS) + i];
    }
    __syncthreads();
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int row = blockIdx.x * 4 + warp;
    if (row >= rows) return;
    const int units = (cols + 31) / 32;
    const unsigned int* w = reinterpret_cast<const unsigned int*>(codes[e]) + (size_t) row * units * BITS;
    const unsigned short* pr = reinterpret_cast<const unsigned short*>(params[e]) + (size_t) row * groups * paramCount;
    const float* s = reinterpret_cast<const float*>(inScale[e]);
    const int first = offsets[e];
    for (int t0 = 0; t0 < count; t0 += TOKENS_PER_PASS) {
        const int nt = min(TOKENS_PER_PASS, count - t0);
        const float* in[TOKENS_PER_PASS];
        for (int t = 0; t < TOKENS_PER_PASS; t++) in[t] = input_row(x, listTok, gather, first + t0 + min(t, nt - 1), cols);
        float acc[TOKENS_PER_PASS] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 4
        for (int u = 0; u < units; u++) {
            const int col = u * 32 + lane;
            const int c = lane_code<BITS>(w + (size_t) u * BITS, lane);
            const int g = u / unitsPerGroup;
            const float p0 = half_to_float(pr[g * paramCount]);
            const float p1 = paramCount > 1 ? half_to_float(pr[g * paramCount + 1]) : 0.0f;
            if (col < cols) {
                const float v = zeroPoint ? (ta[c] - p1) * p0 : fmaf(tb[c], p1, ta[c] * p0);
                const float scale = s ? s[col] : 1.0f;
#pragma unroll
                for (int t = 0; t < TOKENS_PER_PASS; t++) acc[t] = fmaf(v, in[t][col] * scale, acc[t]);
            }
        }
        for (int t = 0; t < nt; t++) {
            const float r = warp_sum(acc[t]);
            if (lane == 0) y[(size_t) (first + t0 + t) * rows + row] = r;
        }
    }
}

#define PACKED_KERNEL(B)                                                                                                          \
    extern "C" __global__ void moe_gemv_packed_##B(const unsigned long long* codes, const unsigned long long* params,              \
            const unsigned long long* inScale, const float* table, const int* counts, const int* offsets, const int* listTok,       \
            int gather, const float* x, float* y, int rows, int cols, int unitsPerGroup, int groups, int paramCount, int zeroPoint) { \
        gemv_packed<B>(codes, params, inScale, table, counts, offsets, listTok, gather, x, y, rows, cols, unitsPerGroup, groups,   \
                paramCount, zeroPoint);                                                                                           \
    }
PACKED_KERNEL(2)
PACKED_KERNEL(3)
PACKED_KERNEL(4)
PACKED_KERNEL(8)

// The same for dense weights: dtype 0 F32, 1 F16, 2 BF16, rows of `cols` elements.
extern "C" __global__ void moe_gemv_dense(const unsigned long long* __restrict__ weights, int dtype, const int* __restrict__ counts,
        const int* __restrict__ offsets, const int* __restrict__ listTok, int gather, const float* __restrict__ x,
        float* __restrict__ y, int rows, int cols) {
    const int e = blockIdx.y, count = counts[e];
    if (count == 0) return;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int row = blockIdx.x * 4 + warp;
    if (row >= rows) return;
    const int first = offsets[e];
    const size_t base = (size_t) row * cols;
    for (int t0 = 0; t0 < count; t0 += TOKENS_PER_PASS) {
        const int nt = min(TOKENS_PER_PASS, count - t0);
        const float* in[TOKENS_PER_PASS];
        for (int t = 0; t < TOKENS_PER_PASS; t++) in[t] = input_row(x, listTok, gather, first + t0 + min(t, nt - 1), cols);
        float acc[TOKENS_PER_PASS] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int c = lane; c < cols; c += 32) {
            float v;
            if (dtype == 0) {
                v = reinterpret_cast<const float*>(weights[e])[base + c];
            } else {
                const unsigned short h = reinterpret_cast<const unsigned short*>(weights[e])[base + c];
                v = dtype == 1 ? half_to_float(h) : __uint_as_float(((unsigned int) h) << 16);
            }
#pragma unroll
            for (int t = 0; t < TOKENS_PER_PASS; t++) acc[t] = fmaf(v, in[t][c], acc[t]);
        }
        for (int t = 0; t < nt; t++) {
            const float r = warp_sum(acc[t]);
            if (lane == 0) y[(size_t) (first + t0 + t) * rows + row] = r;
        }
    }
}

// x[t] += sum over token t's choices, in ascending expert order as the CPU adds them, of weight * ys[slot].
// The product is rounded before the add (the CPU forms scale * y into a zeroed buffer, then adds it). Grid: n.
extern "C" __global__ void moe_combine(float* __restrict__ x, const float* __restrict__ ys, const int* __restrict__ chosen,
        const float* __restrict__ weight, const int* __restrict__ slotOf, int k, int d) {
    const int t = blockIdx.x;
    int order[MAX_K];
    for (int j = 0; j < k; j++) {
        int pos = j;
        while (pos > 0 && chosen[t * k + order[pos - 1]] > chosen[t * k + j]) {
            order[pos] = order[pos - 1];
            pos--;
        }
        order[pos] = j;
    }
    float* xt = x + (size_t) t * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v = xt[i];
        for (int j = 0; j < k; j++) {
            const int c = t * k + order[j];
            v = __fadd_rn(v, __fmul_rn(weight[c], ys[(size_t) slotOf[c] * d + i]));
        }
        xt[i] = v;
    }
}
