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

// A packed unit (32 codes, BITS words; quant/PackedCodes.java) is read by 4 lanes, lane q (0..3) taking 8 codes from
// its own bytes; code i of the lane sits at column offset col8<BITS>(q, i) of the unit:
//   BITS 8: bytes 8q..8q+7, codes 8q..8q+7;  BITS 4: bytes 4q..4q+3, codes 4q..4q+3 (low nibbles), 4q+16.. (high);
//   BITS 2, 3: bytes 2q, 2q+1, codes 2q+b+8s for b in 0..1, s in 0..3 (code i = b + 2s), 3 bits: bit 2 from word 2.
template <int BITS>
__device__ __forceinline__ int col8(int q, int i) {
    if (BITS == 8) return 8 * q + i;
    if (BITS == 4) return i < 4 ? 4 * q + i : 16 + 4 * q + (i - 4);
    return 2 * q + (i & 1) + 8 * (i >> 1);
}

template <int BITS>
__device__ __forceinline__ void codes8(const unsigned int* __restrict__ unit, int q, int c[8]) {
    if (BITS == 8) {
        const uint2 w = *reinterpret_cast<const uint2*>(unit + 2 * q);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            c[i] = (w.x >> (8 * i)) & 0xff;
            c[4 + i] = (w.y >> (8 * i)) & 0xff;
        }
    } else if (BITS == 4) {
        const unsigned int w = unit[q];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            c[i] = (w >> (8 * i)) & 15;
            c[4 + i] = (w >> (8 * i + 4)) & 15;
        }
    } else {
        const unsigned int two = (unit[q >> 1] >> (16 * (q & 1))) & 0xffff; // bytes 2q and 2q+1
#pragma unroll
        for (int i = 0; i < 8; i++) c[i] = (two >> (8 * (i & 1) + 2 * (i >> 1))) & 3;
        if (BITS == 3) {
            const unsigned int high = unit[2];
#pragma unroll
            for (int i = 0; i < 8; i++) c[i] |= ((high >> col8<3>(q, i)) & 1) << 2;
        }
    }
}

// The 8 values of `row` at the lane's columns c0 + col8(q, i), with vector loads (row 16-byte aligned, cols % 4 == 0).
template <int BITS>
__device__ __forceinline__ void load8(const float* __restrict__ row, int c0, int q, float v[8]) {
    if (BITS == 8) {
        const float4 a = *reinterpret_cast<const float4*>(row + c0 + 8 * q), b = *reinterpret_cast<const float4*>(row + c0 + 8 * q + 4);
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else if (BITS == 4) {
        const float4 a = *reinterpret_cast<const float4*>(row + c0 + 4 * q), b = *reinterpret_cast<const float4*>(row + c0 + 16 + 4 * q);
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
#pragma unroll
        for (int s = 0; s < 4; s++) {
            const float2 a = *reinterpret_cast<const float2*>(row + c0 + 2 * q + 8 * s);
            v[2 * s] = a.x;
            v[2 * s + 1] = a.y;
        }
    }
}

// The input row of list entry `entry`: a token row of x (gather) or the entry's own row.
__device__ __forceinline__ const float* input_row(const float* x, const int* listTok, int gather, int entry, int cols) {
    return x + (size_t) (gather ? listTok[entry] : entry) * cols;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// One weight row for NT list entries, packed weights: 4 lanes per unit, 8 units per warp step. A zero-point format
// sums (a[c] - p1) * x over the lane's 8 codes and scales by p0 once (the group is the unit's); the others decode each
// code, b[c] * p1 + a[c] * p0. The last unit of a row whose width is not a multiple of 32, and rows that cannot be
// read with vector loads (cols % 4 != 0), take the guarded scalar path.
template <int BITS, int NT>
__device__ __forceinline__ void packed_row(const unsigned int* __restrict__ w, const unsigned short* __restrict__ pr,
        const float* __restrict__ s, const float* __restrict__ ta, const float* __restrict__ tb, const float* const* in, int cols,
        int units, int unitsPerGroup, int groupShift, int paramCount, int zeroPoint, int lane, float acc[NT]) {
    const int q = lane & 3;
    const bool vec = (cols & 3) == 0;
    for (int u = lane >> 2; u < units; u += 8) {
        int c[8];
        codes8<BITS>(w + (size_t) u * BITS, q, c);
        const int g = groupShift >= 0 ? u >> groupShift : u / unitsPerGroup;
        const float p0 = half_to_float(pr[g * paramCount]);
        const float p1 = paramCount > 1 ? half_to_float(pr[g * paramCount + 1]) : 0.0f;
        float d[8];
#pragma unroll
        for (int i = 0; i < 8; i++) d[i] = zeroPoint ? ta[c[i]] - p1 : fmaf(tb[c[i]], p1, ta[c[i]] * p0);
        const float outer = zeroPoint ? p0 : 1.0f;
        const int c0 = u * 32;
        if (vec && c0 + 32 <= cols) {
            float sc[8];
            if (s) load8<BITS>(s, c0, q, sc);
#pragma unroll
            for (int t = 0; t < NT; t++) {
                float xv[8];
                load8<BITS>(in[t], c0, q, xv);
                float part = 0.0f;
#pragma unroll
                for (int i = 0; i < 8; i++) part = fmaf(d[i], s ? xv[i] * sc[i] : xv[i], part);
                acc[t] = fmaf(outer, part, acc[t]);
            }
        } else {
#pragma unroll
            for (int t = 0; t < NT; t++) {
                float part = 0.0f;
                for (int i = 0; i < 8; i++) {
                    const int col = c0 + col8<BITS>(q, i);
                    if (col < cols) part = fmaf(d[i], s ? in[t][col] * s[col] : in[t][col], part);
                }
                acc[t] = fmaf(outer, part, acc[t]);
            }
        }
    }
}

template <int BITS, int NT>
__device__ __forceinline__ void packed_rows(const unsigned int* w, const unsigned short* pr, const float* s, const float* ta,
        const float* tb, const float* x, const int* listTok, int gather, float* y, int first, int t0, int rows, int row, int cols,
        int units, int unitsPerGroup, int groupShift, int paramCount, int zeroPoint, int lane) {
    const float* in[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) in[t] = input_row(x, listTok, gather, first + t0 + t, cols);
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.0f;
    packed_row<BITS, NT>(w, pr, s, ta, tb, in, cols, units, unitsPerGroup, groupShift, paramCount, zeroPoint, lane, acc);
#pragma unroll
    for (int t = 0; t < NT; t++) {
        const float r = warp_sum(acc[t]);
        if (lane == 0) y[(size_t) (first + t0 + t) * rows + row] = r;
    }
}

// y[entry][row] = W_e[row] . input(entry) for every list entry of expert e = blockIdx.y, packed weights.
// Pointer tables: codes[e], params[e] (fp16 [rows][groups][paramCount]), inScale[e] (0: none; activations are
// multiplied by it). table: the format's decode table, a[2^BITS] then b[2^BITS]. Block: 4 warps, one weight row each,
// all the expert's entries computed 4 at a time per read of the row. groupShift: log2(unitsPerGroup) when that is a
// power of two (the group of unit u is then u >> groupShift), else -1.
template <int BITS>
__device__ void gemv_packed(const unsigned long long* __restrict__ codes, const unsigned long long* __restrict__ params,
        const unsigned long long* __restrict__ inScale, const float* __restrict__ table, const int* __restrict__ counts,
        const int* __restrict__ offsets, const int* __restrict__ listTok, int gather, const float* __restrict__ x,
        float* __restrict__ y, int rows, int cols, int unitsPerGroup, int groupShift, int groups, int paramCount, int zeroPoint) {
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
        switch (min(TOKENS_PER_PASS, count - t0)) {
            case 1: packed_rows<BITS, 1>(w, pr, s, ta, tb, x, listTok, gather, y, first, t0, rows, row, cols, units, unitsPerGroup, groupShift, paramCount, zeroPoint, lane); break;
            case 2: packed_rows<BITS, 2>(w, pr, s, ta, tb, x, listTok, gather, y, first, t0, rows, row, cols, units, unitsPerGroup, groupShift, paramCount, zeroPoint, lane); break;
            case 3: packed_rows<BITS, 3>(w, pr, s, ta, tb, x, listTok, gather, y, first, t0, rows, row, cols, units, unitsPerGroup, groupShift, paramCount, zeroPoint, lane); break;
            default: packed_rows<BITS, 4>(w, pr, s, ta, tb, x, listTok, gather, y, first, t0, rows, row, cols, units, unitsPerGroup, groupShift, paramCount, zeroPoint, lane); break;
        }
    }
}

#define PACKED_KERNEL(B)                                                                                                          \
    extern "C" __global__ void moe_gemv_packed_##B(const unsigned long long* codes, const unsigned long long* params,              \
            const unsigned long long* inScale, const float* table, const int* counts, const int* offsets, const int* listTok,       \
            int gather, const float* x, float* y, int rows, int cols, int unitsPerGroup, int groupShift, int groups, int paramCount,   \
            int zeroPoint) {                                                                                                      \
        gemv_packed<B>(codes, params, inScale, table, counts, offsets, listTok, gather, x, y, rows, cols, unitsPerGroup,           \
                groupShift, groups, paramCount, zeroPoint);                                                                       \
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
