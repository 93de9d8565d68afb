// variants: -DBITS=2 -DZERO_POINT=1 -DAFFINE=1 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=2 -DZERO_POINT=0 -DAFFINE=1 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=2 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=2 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=3 -DZERO_POINT=1 -DAFFINE=1 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=3 -DZERO_POINT=0 -DAFFINE=1 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=3 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=3 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=4 -DZERO_POINT=1 -DAFFINE=1 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=4 -DZERO_POINT=0 -DAFFINE=1 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=4 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=4 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=8 -DZERO_POINT=1 -DAFFINE=1 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=8 -DZERO_POINT=0 -DAFFINE=1 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=8 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=1 -DGEMV_VARIANTS=1 | -DBITS=8 -DZERO_POINT=0 -DAFFINE=0 -DPARAMS=2 -DGEMV_VARIANTS=1 | -DBITS=4 -DZERO_POINT=1 -DAFFINE=1 -DPARAMS=2 -DACCUMULATE=1 -DGEMV_VARIANTS=1 | -DBITS=4 -DZERO_POINT=1 -DAFFINE=1 -DPARAMS=2
// Fused dequantize-GEMV over the packed quantized matrices of dev.bitcap.quant (layout: quant/PackedCodes.java),
// launched by dev.bitcap.cuda.CudaMatMul, and the dequantization to fp16 that feeds cuBLAS for prefill.
// A row is units of 32 codes in 4*BITS bytes (BITS 8: byte j = c_j; 4: byte k = c_k | c_{k+16} << 4; 2: byte k
// holds c_k, c_{k+8}, c_{k+16}, c_{k+24} at bits 0,2,4,6; 3: the 2-bit unit in bytes 0..7, then a 32-bit word
// whose bit j is bit 2 of c_j). Parameters: fp16 [rows][groups][paramCount]; groups start on unit boundaries.
// A code's value follows the format's decode table (quant/DecodeTable.java), with p1 = 0 for one-parameter formats:
//   ZERO_POINT: v = (a[c] - p1) * p0          otherwise: v = fma(b[c], p1, a[c] * p0)
// Activations are multiplied by the optional per-column input scale (AWQ) before the product.
// Variants: BITS, ZERO_POINT, AFFINE (INT tables a[c] = c + a[0], b = 0) and PARAMS (fp16 parameters per group).

#ifndef BITS
#error "BITS must be defined"
#endif
#ifndef ZERO_POINT
#error "ZERO_POINT must be defined"
#endif
#define CODES (1 << BITS)
#ifndef ACCUMULATE
#define ACCUMULATE 0
#endif
// The final write of y: y = W x, or with ACCUMULATE y += W x (the residual add of o_proj / down_proj fused into the
// product; each element is still written by one thread once, so the sums keep their order from launch to launch).
#if ACCUMULATE
#define STORE_Y(dst, v) ((dst) += (v))
#else
#define STORE_Y(dst, v) ((dst) = (v))
#endif
#define UNIT_BYTES (4 * BITS)

#include "pdl.cuh"
// programmatic launch: gemv_staged_1 gemv_staged_4 gemv_staged_8

__device__ __forceinline__ float half_to_float(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short float_to_half(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// The 32 codes of the unit at `p`, in natural order.
__device__ __forceinline__ void unpack(const unsigned char* __restrict__ p, int c[32]) {
#if BITS == 8
    const uint4 lo = *reinterpret_cast<const uint4*>(p), hi = *reinterpret_cast<const uint4*>(p + 16);
    const unsigned int w[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
    for (int j = 0; j < 32; j++) c[j] = (w[j >> 2] >> (8 * (j & 3))) & 0xff;
#elif BITS == 4
    const uint4 q = *reinterpret_cast<const uint4*>(p);
    const unsigned int w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int k = 0; k < 16; k++) {
        const unsigned int byte = (w[k >> 2] >> (8 * (k & 3))) & 0xff;
        c[k] = byte & 15;
        c[k + 16] = byte >> 4;
    }
#else
    const unsigned int w0 = *reinterpret_cast<const unsigned int*>(p), w1 = *reinterpret_cast<const unsigned int*>(p + 4);
#pragma unroll
    for (int k = 0; k < 8; k++) {
        const unsigned int byte = ((k < 4 ? w0 : w1) >> (8 * (k & 3))) & 0xff;
#pragma unroll
        for (int s = 0; s < 4; s++) c[k + 8 * s] = (byte >> (2 * s)) & 3;
    }
#if BITS == 3
    const unsigned int high = *reinterpret_cast<const unsigned int*>(p + 8);
#pragma unroll
    for (int j = 0; j < 32; j++) c[j] |= ((high >> j) & 1) << 2;
#endif
#endif
}

__device__ __forceinline__ float decode(int c, const float* ta, const float* tb, float p0, float p1) {
#if ZERO_POINT
    return (ta[c] - p1) * p0;
#else
    return fmaf(tb[c], p1, ta[c] * p0);
#endif
}

// The 32-bit words of one unit (BITS words of 4 bytes), loaded with the widest access its alignment allows.
__device__ __forceinline__ void load_unit(const unsigned char* __restrict__ p, unsigned int w[BITS]) {
#if BITS == 8
    const uint4 lo = *reinterpret_cast<const uint4*>(p), hi = *reinterpret_cast<const uint4*>(p + 16);
    w[0] = lo.x; w[1] = lo.y; w[2] = lo.z; w[3] = lo.w; w[4] = hi.x; w[5] = hi.y; w[6] = hi.z; w[7] = hi.w;
#elif BITS == 4
    const uint4 q = *reinterpret_cast<const uint4*>(p);
    w[0] = q.x; w[1] = q.y; w[2] = q.z; w[3] = q.w;
#elif BITS == 2
    const uint2 q = *reinterpret_cast<const uint2*>(p);
    w[0] = q.x; w[1] = q.y;
#else
    const unsigned int* q = reinterpret_cast<const unsigned int*>(p);
    w[0] = q[0]; w[1] = q[1]; w[2] = q[2];
#endif
}

#ifndef AFFINE
#define AFFINE 0
#endif
#ifndef PARAMS
#define PARAMS 1
#endif
#define LOW_BITS (BITS == 3 ? 2 : BITS) // the 3-bit layout is the 2-bit one plus a word of high bits
#define LOW_MASK ((1u << LOW_BITS) - 1)
// Per unit the kernel sums c·x (or a[c]·x, b[c]·x) and, where the decode subtracts something per group, Σx; the
// group's parameters are applied once per unit: INT: p0·(Σc·x + (a[0] - p1)·Σx) (p1 = 0 without zero point);
// tables: p0·Σa[c]·x + p1·Σb[c]·x, or p0·(Σa[c]·x - p1·Σx) with a zero point.
#define NEED_SX (AFFINE || ZERO_POINT)
#define NEED_B (!AFFINE && !ZERO_POINT && PARAMS > 1)
#define THREADS 128
#define WARPS (THREADS / 32)
// Scale of the code products in the INT path: sums carry c·x·2^(SCALE_EXP - 149) (see below).
#define SCALE_EXP 100

// Word index and bit offset of (the low bits of) code j of a unit (j a compile-time constant after unrolling).
__device__ __forceinline__ constexpr int word_of(int j) {
    return BITS == 8 ? j >> 2 : BITS == 4 ? (j & 15) >> 2 : (j & 7) >> 2;
}
__device__ __forceinline__ constexpr int bit_of(int j) {
    return BITS == 8 ? 8 * (j & 3) : BITS == 4 ? 8 * (j & 3) + 4 * (j >> 4) : 8 * (j & 3) + 2 * (j >> 3);
}

__device__ __forceinline__ float pow2(int e) {
    return __uint_as_float((unsigned int) (127 + e) << 23);
}

#if AFFINE
// INT codes are not extracted and converted: the masked word, read as a float, is code·2^(bit - 149) exactly
// (a denormal, or with bit 23 set the smallest normal binade, which continues the same scale), as long as the
// code lies below bit 24; codes above are first moved down by 8 bits. The activation is multiplied by
// 2^(SCALE_EXP - bit) (exact), so every FFMA adds code·x·2^(SCALE_EXP - 149), the same product as c·x scaled
// by a power of two: one LOP3 and one FFMA per code. Denormals must not be flushed (NVRTC's default).
__device__ __forceinline__ constexpr bool moved(int bit, int width) {
    return bit + width > 24;
}
__device__ __forceinline__ float low_value(const unsigned int w[BITS], int j) {
    const int b = bit_of(j);
    const unsigned int word = moved(b, LOW_BITS) ? w[word_of(j)] >> 8 : w[word_of(j)];
    return __uint_as_float(word & (LOW_MASK << (moved(b, LOW_BITS) ? b - 8 : b)));
}
__device__ __forceinline__ float low_scale(int j) {
    const int b = bit_of(j);
    return pow2(SCALE_EXP - (moved(b, LOW_BITS) ? b - 8 : b));
}
#if BITS == 3
// Bit 2 of code j is bit j of the third word; it weighs 4.
__device__ __forceinline__ float high_value(const unsigned int w[BITS], int j) {
    return __uint_as_float(moved(j, 1) ? (w[2] >> 8) & (1u << (j - 8)) : w[2] & (1u << j));
}
__device__ __forceinline__ float high_scale(int j) {
    return pow2(SCALE_EXP + 2 - (moved(j, 1) ? j - 8 : j));
}
#endif
#else
__device__ __forceinline__ int code_of(const unsigned int w[BITS], int j) {
    int c = (w[word_of(j)] >> bit_of(j)) & LOW_MASK;
#if BITS == 3
    c |= ((w[2] >> j) & 1) << 2;
#endif
    return c;
}
#endif

// Sums V = R·NT values across the warp with V - 1 + log2(32 / V) shuffles instead of 5·V: at each step half the
// values go to the partner lane (offset 16, 8, ...), which adds them to the half it keeps. Afterwards v[0] of lane l
// holds the warp's total of value index transpose_index<V>(l) (lanes that differ only in the low bits hold the same).
template <int V, int LIVE, int OFFSET>
__device__ __forceinline__ void halve(float (&v)[V], int lane) {
    if constexpr (LIVE > 1) {
        constexpr int H = LIVE / 2;
        const bool upper = (lane & OFFSET) != 0;
#pragma unroll
        for (int i = 0; i < H; i++) {
            const float send = upper ? v[i] : v[i + H];
            const float keep = upper ? v[i + H] : v[i];
            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, OFFSET);
        }
        halve<V, H, OFFSET / 2>(v, lane); // only v[0 .. H) matter from here
    } else {
#pragma unroll
        for (int o = OFFSET; o > 0; o >>= 1) v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
    }
}

template <int V>
__device__ __forceinline__ void warp_transpose_sum(float (&v)[V], int lane) {
    halve<V, V, 16>(v, lane);
}

template <int V>
__device__ __forceinline__ int transpose_index(int lane) {
    int idx = 0, offset = 16;
#pragma unroll
    for (int half = V / 2; half >= 1; half /= 2) {
        if (lane & offset) idx += half;
        offset >>= 1;
    }
    return idx;
}

// y[t][r] = sum_c W[r][c] * (x[t][c] * inScale[c]) for n activation rows. A block of THREADS threads owns R
// weight rows and NT activation rows; thread i takes units i, i + THREADS, ... of all R rows: it loads that unit of
// every row first (R independent 4·BITS-byte loads in flight per thread), reads each activation chunk once for the
// R rows, and applies the group parameters once per unit. The R·NT sums meet across the block at the end.
template <int R, int NT>
__device__ __forceinline__ void gemv_rows(const unsigned char* __restrict__ codes, const unsigned short* __restrict__ params,
        const float* __restrict__ table, const float* __restrict__ inScale, const float* __restrict__ x, float* __restrict__ y,
        int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount, int affineOffset) {
#if !AFFINE
#if NEED_B
    __shared__ float2 tab[CODES]; // (a[c], b[c]) side by side: one shared-memory load per code
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
#else
    __shared__ float tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = table[i];
#endif
    __syncthreads();
#endif
    constexpr int V = R * NT;
    __shared__ float partial[WARPS][V];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int r0 = blockIdx.x * R;
    const int t0 = blockIdx.y * NT;
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const size_t rowBytes = (size_t) units * UNIT_BYTES;
    const bool vec = (cols & 31) == 0 && inScale == nullptr;
    float acc[V];
#pragma unroll
    for (int i = 0; i < V; i++) acc[i] = 0.0f;

    for (int u = tid; u < units; u += THREADS) {
        unsigned int w[R][BITS];
        float p0[R];
#if NEED_SX || NEED_B
        float p1[R];
#endif
        const int g = u / unitsPerGroup;
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int r = min(r0 + i, rows - 1); // rows past the end repeat the last one and are not written
            load_unit(codes + (size_t) r * rowBytes + (size_t) u * UNIT_BYTES, w[i]);
            const unsigned short* pr = params + ((size_t) r * groups + g) * paramCount;
            p0[i] = half_to_float(pr[0]);
#if NEED_SX || NEED_B
            p1[i] = paramCount > 1 ? half_to_float(pr[1]) : 0.0f;
#endif
        }
        float sa[R][NT];
#if NEED_B
        float sb[R][NT];
#endif
        float sx[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) {
            sx[t] = 0.0f;
#pragma unroll
            for (int i = 0; i < R; i++) {
                sa[i][t] = 0.0f;
#if NEED_B
                sb[i][t] = 0.0f;
#endif
            }
        }
        const int col = u * 32;
#pragma unroll
        for (int jc = 0; jc < 32; jc += 4) {
            // Four codes of every row decoded once, then used for each activation row.
#if AFFINE
            float v[R][4];
#if BITS == 3
            float vh[R][4];
#endif
#pragma unroll
            for (int i = 0; i < R; i++) {
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    v[i][k] = low_value(w[i], jc + k);
#if BITS == 3
                    vh[i][k] = high_value(w[i], jc + k);
#endif
                }
            }
#else
#if NEED_B
            float2 v[R][4];
#else
            float v[R][4];
#endif
#pragma unroll
            for (int i = 0; i < R; i++) {
#pragma unroll
                for (int k = 0; k < 4; k++) v[i][k] = tab[code_of(w[i], jc + k)];
            }
#endif
#pragma unroll
            for (int t = 0; t < NT; t++) {
                if (t >= nt) break;
                const float* xr = x + (size_t) (t0 + t) * cols + col + jc;
                float xv[4];
                if (vec) {
                    const float4 q = *reinterpret_cast<const float4*>(xr);
                    xv[0] = q.x; xv[1] = q.y; xv[2] = q.z; xv[3] = q.w;
                } else {
#pragma unroll
                    for (int k = 0; k < 4; k++) {
                        const int cc = col + jc + k;
                        xv[k] = cc < cols ? (inScale ? xr[k] * inScale[cc] : xr[k]) : 0.0f;
                    }
                }
#if NEED_SX
                sx[t] += (xv[0] + xv[1]) + (xv[2] + xv[3]);
#endif
#if AFFINE
                float xs[4];
#if BITS == 3
                float xh[4];
#endif
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    xs[k] = xv[k] * low_scale(jc + k);
#if BITS == 3
                    xh[k] = xv[k] * high_scale(jc + k);
#endif
                }
#pragma unroll
                for (int i = 0; i < R; i++) {
#pragma unroll
                    for (int k = 0; k < 4; k++) {
                        sa[i][t] = fmaf(v[i][k], xs[k], sa[i][t]);
#if BITS == 3
                        sa[i][t] = fmaf(vh[i][k], xh[k], sa[i][t]);
#endif
                    }
                }
#else
#pragma unroll
                for (int i = 0; i < R; i++) {
#pragma unroll
                    for (int k = 0; k < 4; k++) {
#if NEED_B
                        sa[i][t] = fmaf(v[i][k].x, xv[k], sa[i][t]);
                        sb[i][t] = fmaf(v[i][k].y, xv[k], sb[i][t]);
#else
                        sa[i][t] = fmaf(v[i][k], xv[k], sa[i][t]);
#endif
                    }
                }
#endif
            }
        }
        // The unit's group parameters, once per row and activation row.
#pragma unroll
        for (int i = 0; i < R; i++) {
#pragma unroll
            for (int t = 0; t < NT; t++) {
#if AFFINE
                const float dot = fmaf((float) affineOffset - p1[i], sx[t], sa[i][t] * pow2(149 - SCALE_EXP));
                acc[i * NT + t] = fmaf(p0[i], dot, acc[i * NT + t]);
#elif ZERO_POINT
                acc[i * NT + t] = fmaf(p0[i], fmaf(-p1[i], sx[t], sa[i][t]), acc[i * NT + t]);
#elif NEED_B
                acc[i * NT + t] = fmaf(p1[i], sb[i][t], fmaf(p0[i], sa[i][t], acc[i * NT + t]));
#else
                acc[i * NT + t] = fmaf(p0[i], sa[i][t], acc[i * NT + t]);
#endif
            }
        }
    }
    warp_transpose_sum<V>(acc, lane);
    if ((lane & (32 / V - 1)) == 0) partial[warp][transpose_index<V>(lane)] = acc[0];
    __syncthreads();
    if (tid < V) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < WARPS; k++) s += partial[k][tid];
        const int i = tid / NT, t = tid % NT;
        if (t < nt && r0 + i < rows) STORE_Y(y[(size_t) (t0 + t) * rows + r0 + i], s);
    }
}

// One activation row (decode): ROWS_1 weight rows per block (fewer where codes or table values take many registers;
// CudaMatMul.rowsPerBlock1 says the same). Launched with THREADS threads, grid (ceil(rows / ROWS_1), n).
#define ROWS_1 (AFFINE && BITS <= 4 ? 8 : 4)
extern "C" __global__ void __launch_bounds__(THREADS) gemv_packed_1(const unsigned char* __restrict__ codes,
        const unsigned short* __restrict__ params, const float* __restrict__ table, const float* __restrict__ inScale,
        const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount,
        int affineOffset) {
    gemv_rows<ROWS_1, 1>(codes, params, table, inScale, x, y, rows, cols, n, unitsPerGroup, groups, paramCount, affineOffset);
}

// Up to four activation rows read each weight once: 4 weight rows per block, grid (ceil(rows / 4), ceil(n / 4)).
extern "C" __global__ void __launch_bounds__(THREADS) gemv_packed_4(const unsigned char* __restrict__ codes,
        const unsigned short* __restrict__ params, const float* __restrict__ table, const float* __restrict__ inScale,
        const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount,
        int affineOffset) {
    gemv_rows<4, 4>(codes, params, table, inScale, x, y, rows, cols, n, unitsPerGroup, groups, paramCount, affineOffset);
}

// out[r][c] = fp16(W[r][c] * inScale[c]): the effective weights for a cuBLAS fp16 product. One thread per unit.
extern "C" __global__ void dequantize_f16(const unsigned char* __restrict__ codes, const unsigned short* __restrict__ params,
        const float* __restrict__ table, const float* __restrict__ inScale, unsigned short* __restrict__ out, int rows, int cols,
        int unitsPerGroup, int groups, int paramCount) {
    __shared__ float ta[CODES], tb[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) {
        ta[i] = table[i];
        tb[i] = table[CODES + i];
    }
    __syncthreads();
    const int units = (cols + 31) / 32;
    const long long total = (long long) rows * units;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        const int r = (int) (i / units), u = (int) (i % units);
        int c[32];
        unpack(codes + ((size_t) r * units + u) * UNIT_BYTES, c);
        const unsigned short* prow = params + (size_t) r * groups * paramCount;
        const int g = u / unitsPerGroup;
        const float p0 = half_to_float(prow[g * paramCount]);
        const float p1 = paramCount > 1 ? half_to_float(prow[g * paramCount + 1]) : 0.0f;
#pragma unroll
        for (int j = 0; j < 32; j++) {
            const int col = u * 32 + j;
            if (col < cols) {
                const float v = decode(c[j], ta, tb, p0, p1);
                out[(size_t) r * cols + col] = float_to_half(inScale ? v * inScale[col] : v);
            }
        }
    }
}

// ---- Staged GEMV (gemv_staged_*): activations in shared memory, each weight read once per launch ----------------
// The kernels above read activations straight from global memory, lane l taking unit l: a warp's 16-byte activation
// loads then hit 32 cache lines 128 bytes apart, so the L1 traffic for x rivals the weight traffic. Here a block
// first copies its slab of x (times the input scale, zero past the end) into shared memory, one padding float4 per
// unit so that the 8 lanes of a quarter-warp reading chunk k of their units fall in distinct banks; then each warp
// streams R weight rows, lane l taking units l, l + 32, ... of the slab, the next unit's codes loaded while the
// current one is summed. A block covers 8·R rows and one slab of columns (gridDim.y slabs); the slabs' partial sums
// go to scratch and the last block of a row block to finish adds them in slab order (deterministic, one launch).
#define STAGED_THREADS 256
#define STAGED_WARPS (STAGED_THREADS / 32)
#define SLOTS_PER_UNIT 9 // 8 float4 of activations + 1 of padding

template <int R>
struct UnitCodes {
    unsigned int w[R][BITS];
    float p0[R];
#if NEED_SX || NEED_B
    float p1[R];
#endif
};

template <int R>
__device__ __forceinline__ void load_units(UnitCodes<R>& c, const unsigned char* __restrict__ codes, const unsigned short* __restrict__ params,
        int r0, int rows, int u, size_t rowBytes, int unitsPerGroup, int groups, int paramCount) {
    const int g = u / unitsPerGroup;
#pragma unroll
    for (int i = 0; i < R; i++) {
        const int r = min(r0 + i, rows - 1); // rows past the end repeat the last one and are not written
        load_unit(codes + (size_t) r * rowBytes + (size_t) u * UNIT_BYTES, c.w[i]);
        const unsigned short* pr = params + ((size_t) r * groups + g) * paramCount;
        c.p0[i] = half_to_float(__ldg(pr));
#if NEED_SX || NEED_B
        c.p1[i] = paramCount > 1 ? half_to_float(__ldg(pr + 1)) : 0.0f;
#endif
    }
}

// Adds unit `c` (R rows) times the NT staged activation rows (slot base `xs`, `tStride` float4 between rows) to acc.
template <int R, int NT, typename Tab>
__device__ __forceinline__ void sum_unit(const UnitCodes<R>& c, const float4* xs, int tStride, const Tab* tab, int affineOffset,
        float (&acc)[R * NT]) {
    float sa[R][NT];
#if NEED_B
    float sb[R][NT];
#endif
    float sx[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) {
        sx[t] = 0.0f;
#pragma unroll
        for (int i = 0; i < R; i++) {
            sa[i][t] = 0.0f;
#if NEED_B
            sb[i][t] = 0.0f;
#endif
        }
    }
#pragma unroll
    for (int jc = 0; jc < 32; jc += 4) {
#if AFFINE
        float v[R][4];
#if BITS == 3
        float vh[R][4];
#endif
#pragma unroll
        for (int i = 0; i < R; i++) {
#pragma unroll
            for (int k = 0; k < 4; k++) {
                v[i][k] = low_value(c.w[i], jc + k);
#if BITS == 3
                vh[i][k] = high_value(c.w[i], jc + k);
#endif
            }
        }
#else
        Tab v[R][4];
#pragma unroll
        for (int i = 0; i < R; i++) {
#pragma unroll
            for (int k = 0; k < 4; k++) v[i][k] = tab[code_of(c.w[i], jc + k)];
        }
#endif
#pragma unroll
        for (int t = 0; t < NT; t++) {
            const float4 q = xs[t * tStride + (jc >> 2)];
            const float xv[4] = {q.x, q.y, q.z, q.w};
#if NEED_SX
            sx[t] += (xv[0] + xv[1]) + (xv[2] + xv[3]);
#endif
#if AFFINE
            float xsc[4];
#if BITS == 3
            float xh[4];
#endif
#pragma unroll
            for (int k = 0; k < 4; k++) {
                xsc[k] = xv[k] * low_scale(jc + k);
#if BITS == 3
                xh[k] = xv[k] * high_scale(jc + k);
#endif
            }
#pragma unroll
            for (int i = 0; i < R; i++) {
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    sa[i][t] = fmaf(v[i][k], xsc[k], sa[i][t]);
#if BITS == 3
                    sa[i][t] = fmaf(vh[i][k], xh[k], sa[i][t]);
#endif
                }
            }
#else
#pragma unroll
            for (int i = 0; i < R; i++) {
#pragma unroll
                for (int k = 0; k < 4; k++) {
#if NEED_B
                    sa[i][t] = fmaf(v[i][k].x, xv[k], sa[i][t]);
                    sb[i][t] = fmaf(v[i][k].y, xv[k], sb[i][t]);
#else
                    sa[i][t] = fmaf(v[i][k], xv[k], sa[i][t]);
#endif
                }
            }
#endif
        }
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
#pragma unroll
        for (int t = 0; t < NT; t++) {
#if AFFINE
            const float dot = fmaf((float) affineOffset - c.p1[i], sx[t], sa[i][t] * pow2(149 - SCALE_EXP));
            acc[i * NT + t] = fmaf(c.p0[i], dot, acc[i * NT + t]);
#elif ZERO_POINT
            acc[i * NT + t] = fmaf(c.p0[i], fmaf(-c.p1[i], sx[t], sa[i][t]), acc[i * NT + t]);
#elif NEED_B
            acc[i * NT + t] = fmaf(c.p1[i], sb[i][t], fmaf(c.p0[i], sa[i][t], acc[i * NT + t]));
#else
            acc[i * NT + t] = fmaf(c.p0[i], sa[i][t], acc[i * NT + t]);
#endif
        }
    }
}

// y[t][r] for NT activation rows t0 = blockIdx.z·NT ... (n in all). Grid (ceil(rows / (8·R)), slabs, ceil(n / NT)),
// STAGED_THREADS threads, dynamic shared memory NT·slabUnits·SLOTS_PER_UNIT·16 bytes. With more than one slab,
// `partial` holds [slabs][n][rows] floats and `counters` one zero-initialised int per (row block, z).
template <int R, int NT>
__device__ __forceinline__ void gemv_staged(const unsigned char* __restrict__ codes, const unsigned short* __restrict__ params,
        const float* __restrict__ table, const float* __restrict__ inScale, const float* __restrict__ x, float* __restrict__ y,
        int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount, int affineOffset, int slabUnits,
        float* __restrict__ partial, unsigned int* __restrict__ counters) {
    extern __shared__ float4 xs[];
#if !AFFINE
#if NEED_B
    __shared__ float2 tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
#else
    __shared__ float tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = table[i];
#endif
#else
    const float* tab = nullptr;
#endif
    constexpr int V = R * NT;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int r0 = (blockIdx.x * STAGED_WARPS + warp) * R;
    const int t0 = blockIdx.z * NT;
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const int u0 = blockIdx.y * slabUnits, u1 = min(units, u0 + slabUnits);
    const size_t rowBytes = (size_t) units * UNIT_BYTES;

    // The first unit's codes are requested before the activations are staged, so both latencies overlap.
    PDL_TRIGGER();
    UnitCodes<R> cur;
    int u = u0 + lane;
    if (u < u1) load_units<R>(cur, codes, params, r0, rows, u, rowBytes, unitsPerGroup, groups, paramCount);
    PDL_WAIT(); // weights and table above are never written by a kernel; activations, y and the slab scratch are

    const int slabFloat4 = (u1 - u0) * 8;
    const bool vec = (cols & 31) == 0 && inScale == nullptr;
    for (int t = 0; t < NT; t++) {
        const float* xr = x + (size_t) (t0 + min(t, nt - 1)) * cols + (size_t) u0 * 32;
        float4* dst = xs + t * slabUnits * SLOTS_PER_UNIT;
        for (int f = tid; f < slabFloat4; f += STAGED_THREADS) {
            float4 q;
            if (vec) {
                q = __ldg(reinterpret_cast<const float4*>(xr) + f);
            } else {
                float e[4];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const int cc = u0 * 32 + 4 * f + k;
                    e[k] = cc < cols ? (inScale ? xr[4 * f + k] * inScale[cc] : xr[4 * f + k]) : 0.0f;
                }
                q = make_float4(e[0], e[1], e[2], e[3]);
            }
            dst[(f >> 3) * SLOTS_PER_UNIT + (f & 7)] = q;
        }
    }
    __syncthreads();

    float acc[V];
#pragma unroll
    for (int i = 0; i < V; i++) acc[i] = 0.0f;
    while (u < u1) {
        const int next = u + 32;
        UnitCodes<R> nxt;
        if (next < u1) load_units<R>(nxt, codes, params, r0, rows, next, rowBytes, unitsPerGroup, groups, paramCount);
        sum_unit<R, NT>(cur, xs + (u - u0) * SLOTS_PER_UNIT, slabUnits * SLOTS_PER_UNIT, tab, affineOffset, acc);
        cur = nxt;
        u = next;
    }
    warp_transpose_sum<V>(acc, lane);
    const int idx = transpose_index<V>(lane);
    const int i = idx / NT, t = idx % NT;
    const bool owner = (lane & (32 / V - 1)) == 0 && t < nt && r0 + i < rows;
    if (gridDim.y == 1) {
        if (owner) STORE_Y(y[(size_t) (t0 + t) * rows + r0 + i], acc[0]);
        return;
    }
    if (owner) partial[((size_t) blockIdx.y * n + t0 + t) * rows + r0 + i] = acc[0];
    // The last slab block of this row block to finish adds the slabs in order.
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        unsigned int* counter = counters + (size_t) blockIdx.z * gridDim.x + blockIdx.x;
        last = atomicAdd(counter, 1u) == gridDim.y - 1;
        if (last) *counter = 0; // ready for the next launch
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    const int rb = blockIdx.x * STAGED_WARPS * R;
    for (int k = tid; k < STAGED_WARPS * R * NT; k += STAGED_THREADS) {
        const int rr = rb + k % (STAGED_WARPS * R), tt = t0 + k / (STAGED_WARPS * R);
        if (rr >= rows || tt >= n) continue;
        float s = 0.0f;
        for (int sl = 0; sl < gridDim.y; sl++) s += __ldcg(partial + ((size_t) sl * n + tt) * rows + rr);
        STORE_Y(y[(size_t) tt * rows + rr], s);
    }
}

#ifndef STAGED_R1
#define STAGED_R1 (AFFINE && BITS <= 4 ? 4 : 2)
#endif
#define STAGED_R4 2
#define STAGED_R8 (NEED_B ? 2 : 4)
#define STAGED_ARGS const unsigned char* __restrict__ codes, const unsigned short* __restrict__ params, \
        const float* __restrict__ table, const float* __restrict__ inScale, const float* __restrict__ x, float* __restrict__ y, \
        int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount, int affineOffset, int slabUnits, \
        float* __restrict__ partial, unsigned int* __restrict__ counters
#define STAGED_PASS codes, params, table, inScale, x, y, rows, cols, n, unitsPerGroup, groups, paramCount, affineOffset, slabUnits, \
        partial, counters

#ifndef STAGED_MIN_BLOCKS
#define STAGED_MIN_BLOCKS 1 // staged:R:B:M asks the compiler for M resident blocks per multiprocessor
#endif
// One activation row: STAGED_R1 weight rows per warp (CudaMatMul.stagedRows says the same).
extern "C" __global__ void __launch_bounds__(STAGED_THREADS, STAGED_MIN_BLOCKS) gemv_staged_1(STAGED_ARGS) {
    gemv_staged<STAGED_R1, 1>(STAGED_PASS);
}

// Up to four activation rows per pass, 2 weight rows per warp.
extern "C" __global__ void __launch_bounds__(STAGED_THREADS) gemv_staged_4(STAGED_ARGS) {
    gemv_staged<STAGED_R4, 4>(STAGED_PASS);
}

// Up to eight activation rows per pass, STAGED_R8 weight rows per warp.
extern "C" __global__ void __launch_bounds__(STAGED_THREADS) gemv_staged_8(STAGED_ARGS) {
    gemv_staged<STAGED_R8, 8>(STAGED_PASS);
}

// ---- Asynchronous-copy variant of gemv_staged_1 (gemv_async_1): experimental, not the default ---------------------
// gemv_staged_1 holds the codes in flight in registers (≤ 2 units per lane), which caps the bytes in flight per SM.
// Here each lane copies its units' codes with cp.async straight into its own slots of a per-warp ring of ASYNC_STAGES
// steps in shared memory (no registers held while in flight; the group parameters, a few bytes, are loaded into
// registers one ring ahead), waits for the oldest step and sums it from shared memory. Each lane reads back only
// what it copied itself, so the per-thread cp.async groups order everything and no barrier is needed.
// Dynamic shared memory: the activation slab (as gemv_staged_*) then 8 warps x ASYNC_STAGES x R x 32 x SLOT bytes.
#ifndef ASYNC_STAGES
#define ASYNC_STAGES 4
#endif
#define SLOT_BYTES (UNIT_BYTES < 16 ? 16 : UNIT_BYTES)

__device__ __forceinline__ void copy_unit_async(unsigned char* dst, const unsigned char* __restrict__ src) {
    const unsigned int d = (unsigned int) __cvta_generic_to_shared(dst);
#if BITS == 8
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(d), "l"(src));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(d + 16), "l"(src + 16));
#elif BITS == 4
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(d), "l"(src));
#elif BITS == 2
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" :: "r"(d), "l"(src));
#else
#pragma unroll
    for (int k = 0; k < 3; k++) asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" :: "r"(d + 4 * k), "l"(src + 4 * k));
#endif
}

__device__ __forceinline__ void read_unit_shared(const unsigned char* p, unsigned int w[BITS]) {
#pragma unroll
    for (int k = 0; k < BITS; k++) w[k] = reinterpret_cast<const unsigned int*>(p)[k];
}

template <int R>
__device__ __forceinline__ void gemv_async(const unsigned char* __restrict__ codes, const unsigned short* __restrict__ params,
        const float* __restrict__ table, const float* __restrict__ inScale, const float* __restrict__ x, float* __restrict__ y,
        int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount, int affineOffset, int slabUnits,
        float* __restrict__ partial, unsigned int* __restrict__ counters) {
    constexpr int S = ASYNC_STAGES;
    extern __shared__ float4 xs[];
#if !AFFINE
#if NEED_B
    __shared__ float2 tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
#else
    __shared__ float tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = table[i];
#endif
#else
    const float* tab = nullptr;
#endif
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int r0 = (blockIdx.x * STAGED_WARPS + warp) * R;
    const int units = (cols + 31) / 32;
    const int u0 = blockIdx.y * slabUnits, u1 = min(units, u0 + slabUnits);
    const size_t rowBytes = (size_t) units * UNIT_BYTES;
    unsigned char* ring = reinterpret_cast<unsigned char*>(xs + slabUnits * SLOTS_PER_UNIT) + (size_t) warp * S * R * 32 * SLOT_BYTES;
    const int steps = (u1 - u0 + 31) / 32; // the same for every lane; lanes past u1 copy and sum nothing

    float p0[S][R];
#if NEED_SX || NEED_B
    float p1[S][R];
#endif
    // Step k of this lane: unit u0 + lane + 32k into ring slot k % S (copies, then one commit per step, always).
    auto issue = [&](int k, int slot) {
        const int u = u0 + lane + 32 * k;
        if (k < steps && u < u1) {
            const int g = u / unitsPerGroup;
#pragma unroll
            for (int i = 0; i < R; i++) {
                const int r = min(r0 + i, rows - 1);
                copy_unit_async(ring + ((size_t) (slot * R + i) * 32 + lane) * SLOT_BYTES, codes + (size_t) r * rowBytes + (size_t) u * UNIT_BYTES);
                const unsigned short* pr = params + ((size_t) r * groups + g) * paramCount;
                p0[slot][i] = half_to_float(__ldg(pr));
#if NEED_SX || NEED_B
                p1[slot][i] = paramCount > 1 ? half_to_float(__ldg(pr + 1)) : 0.0f;
#endif
            }
        }
        asm volatile("cp.async.commit_group;");
    };
#pragma unroll
    for (int s = 0; s < S - 1; s++) issue(s, s);

    // The activations, staged as in gemv_staged (x times the input scale, zero past the end).
    const int slabFloat4 = (u1 - u0) * 8;
    const bool vec = (cols & 31) == 0 && inScale == nullptr;
    {
        const float* xr = x + (size_t) u0 * 32;
        for (int f = tid; f < slabFloat4; f += STAGED_THREADS) {
            float4 q;
            if (vec) {
                q = __ldg(reinterpret_cast<const float4*>(xr) + f);
            } else {
                float e[4];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const int cc = u0 * 32 + 4 * f + k;
                    e[k] = cc < cols ? (inScale ? xr[4 * f + k] * inScale[cc] : xr[4 * f + k]) : 0.0f;
                }
                q = make_float4(e[0], e[1], e[2], e[3]);
            }
            xs[(f >> 3) * SLOTS_PER_UNIT + (f & 7)] = q;
        }
    }
    __syncthreads();

    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) acc[i] = 0.0f;
    for (int base = 0; base < steps; base += S) {
#pragma unroll
        for (int s = 0; s < S; s++) {
            const int k = base + s;
            if (k < steps) {
                issue(k + S - 1, (s + S - 1) % S);
                asm volatile("cp.async.wait_group %0;" :: "n"(S - 1));
                const int u = u0 + lane + 32 * k;
                if (u < u1) {
                    UnitCodes<R> c;
#pragma unroll
                    for (int i = 0; i < R; i++) {
                        read_unit_shared(ring + ((size_t) (s * R + i) * 32 + lane) * SLOT_BYTES, c.w[i]);
                        c.p0[i] = p0[s][i];
#if NEED_SX || NEED_B
                        c.p1[i] = p1[s][i];
#endif
                    }
                    sum_unit<R, 1>(c, xs + (u - u0) * SLOTS_PER_UNIT, 0, tab, affineOffset, acc);
                }
            }
        }
    }
    asm volatile("cp.async.wait_all;");
    warp_transpose_sum<R>(acc, lane);
    const int i = transpose_index<R>(lane);
    const bool owner = (lane & (32 / R - 1)) == 0 && r0 + i < rows;
    if (gridDim.y == 1) {
        if (owner) STORE_Y(y[r0 + i], acc[0]);
        return;
    }
    if (owner) partial[(size_t) blockIdx.y * rows + r0 + i] = acc[0];
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        unsigned int* counter = counters + blockIdx.x;
        last = atomicAdd(counter, 1u) == gridDim.y - 1;
        if (last) *counter = 0;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    const int rb = blockIdx.x * STAGED_WARPS * R;
    for (int k = tid; k < STAGED_WARPS * R; k += STAGED_THREADS) {
        const int rr = rb + k;
        if (rr >= rows) continue;
        float sum = 0.0f;
        for (int sl = 0; sl < gridDim.y; sl++) sum += __ldcg(partial + (size_t) sl * rows + rr);
        STORE_Y(y[rr], sum);
    }
}

// One activation row, STAGED_R1 weight rows per warp, codes in flight through cp.async (n must be 1).
extern "C" __global__ void __launch_bounds__(STAGED_THREADS) gemv_async_1(STAGED_ARGS) {
    gemv_async<STAGED_R1>(STAGED_PASS);
}

// Sets `count` ints to zero (the staged kernels' slab counters, once when they are allocated).
extern "C" __global__ void zero_counters(unsigned int* __restrict__ counters, int count) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) counters[i] = 0;
}

// ---- Opt-in decode variants (GEMV_VARIANTS=1; CudaMatMul.PackedTuning.variant, BITCAP_GEMV_VARIANT): not the default --
// At the Llama-3-8B decode shapes a warp of gemv_staged_1 walks only 4-5 units per lane (128 units per 4096-wide
// row; 160-unit slabs of the 14336-wide rows), so its one-unit-ahead pipeline never reaches a steady state: each warp
// waits for the first unit, then for every later one in a chain of loaded latencies. Both variants put the whole of
// a warp's share of the slab (or a deep part of it) in flight before any math, so that the bytes in flight per SM
// stop depending on the loop reaching a steady state (predictions per variant: docs/CUDA_NOTES.md, "gemv4").
#if GEMV_VARIANTS
#ifndef WIDE_UNITS
#define WIDE_UNITS 4
#endif
#ifndef WIDE_R1
#define WIDE_R1 2
#endif
#ifndef BULK_STAGES
#define BULK_STAGES 4
#endif

// The end of a staged-style kernel: the warp's R·NT sums reduced across its lanes, written (one slab) or left in
// `partial` for the last slab block of the row block to add in slab order (as gemv_staged does).
template <int R, int NT>
__device__ __forceinline__ void finish_slabs(float (&acc)[R * NT], float* __restrict__ y, int rows, int n, int r0, int t0, int nt,
        float* __restrict__ partial, unsigned int* __restrict__ counters) {
    constexpr int V = R * NT;
    const int tid = threadIdx.x, lane = tid & 31;
    warp_transpose_sum<V>(acc, lane);
    const int idx = transpose_index<V>(lane);
    const int i = idx / NT, t = idx % NT;
    const bool owner = (lane & (32 / V - 1)) == 0 && t < nt && r0 + i < rows;
    if (gridDim.y == 1) {
        if (owner) STORE_Y(y[(size_t) (t0 + t) * rows + r0 + i], acc[0]);
        return;
    }
    if (owner) partial[((size_t) blockIdx.y * n + t0 + t) * rows + r0 + i] = acc[0];
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        unsigned int* counter = counters + (size_t) blockIdx.z * gridDim.x + blockIdx.x;
        last = atomicAdd(counter, 1u) == gridDim.y - 1;
        if (last) *counter = 0;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    const int rb = blockIdx.x * STAGED_WARPS * R;
    for (int k = tid; k < STAGED_WARPS * R * NT; k += STAGED_THREADS) {
        const int rr = rb + k % (STAGED_WARPS * R), tt = t0 + k / (STAGED_WARPS * R);
        if (rr >= rows || tt >= n) continue;
        float s = 0.0f;
        for (int sl = 0; sl < gridDim.y; sl++) s += __ldcg(partial + ((size_t) sl * n + tt) * rows + rr);
        STORE_Y(y[(size_t) tt * rows + rr], s);
    }
}

// x rows t0 .. t0 + NT - 1 of the slab [u0, u1) into shared memory as gemv_staged stages them (times the input
// scale, zero past the end, one padding float4 per unit); rows past n repeat the last one and are not written.
template <int NT>
__device__ __forceinline__ void stage_activations(float4* xs, const float* __restrict__ x, const float* __restrict__ inScale, int cols,
        int t0, int nt, int u0, int u1, int slabUnits) {
    const int slabFloat4 = (u1 - u0) * 8;
    const bool vec = (cols & 31) == 0 && inScale == nullptr;
    for (int t = 0; t < NT; t++) {
        const float* xr = x + (size_t) (t0 + min(t, nt - 1)) * cols + (size_t) u0 * 32;
        float4* dst = xs + t * slabUnits * SLOTS_PER_UNIT;
        for (int f = threadIdx.x; f < slabFloat4; f += STAGED_THREADS) {
            float4 q;
            if (vec) {
                q = __ldg(reinterpret_cast<const float4*>(xr) + f);
            } else {
                float e[4];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const int cc = u0 * 32 + 4 * f + k;
                    e[k] = cc < cols ? (inScale ? xr[4 * f + k] * inScale[cc] : xr[4 * f + k]) : 0.0f;
                }
                q = make_float4(e[0], e[1], e[2], e[3]);
            }
            dst[(f >> 3) * SLOTS_PER_UNIT + (f & 7)] = q;
        }
    }
}

// ---- gemv_wide_*: D units per lane and row in registers, all requested before any math ------------------------------
// Lane l of a warp takes units base + l + 32·d (d < D) of its R rows: R·D independent loads of 4·BITS bytes (and the
// units' parameters) are issued at once, then summed; the next D units are requested after that. No pipelining
// inside a warp (it would double the registers): the other warps of the SM overlap. The first D units are requested
// before the activations are staged. Launch as gemv_staged_* (grid, threads, dynamic shared memory).
template <int R, int NT, int D>
__device__ __forceinline__ void gemv_wide(STAGED_ARGS) {
    extern __shared__ float4 xs[];
#if !AFFINE
#if NEED_B
    __shared__ float2 tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
#else
    __shared__ float tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = table[i];
#endif
#else
    const float* tab = nullptr;
#endif
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int r0 = (blockIdx.x * STAGED_WARPS + warp) * R;
    const int t0 = blockIdx.z * NT;
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const int u0 = blockIdx.y * slabUnits, u1 = min(units, u0 + slabUnits);
    const size_t rowBytes = (size_t) units * UNIT_BYTES;

    UnitCodes<R> c[D];
    int base = u0;
#pragma unroll
    for (int d = 0; d < D; d++) {
        const int u = base + lane + 32 * d;
        if (u < u1) load_units<R>(c[d], codes, params, r0, rows, u, rowBytes, unitsPerGroup, groups, paramCount);
    }
    stage_activations<NT>(xs, x, inScale, cols, t0, nt, u0, u1, slabUnits);
    __syncthreads();

    float acc[R * NT];
#pragma unroll
    for (int i = 0; i < R * NT; i++) acc[i] = 0.0f;
    while (base < u1) {
#pragma unroll
        for (int d = 0; d < D; d++) {
            const int u = base + lane + 32 * d;
            if (u < u1) sum_unit<R, NT>(c[d], xs + (u - u0) * SLOTS_PER_UNIT, slabUnits * SLOTS_PER_UNIT, tab, affineOffset, acc);
        }
        base += 32 * D;
        if (base < u1) {
#pragma unroll
            for (int d = 0; d < D; d++) {
                const int u = base + lane + 32 * d;
                if (u < u1) load_units<R>(c[d], codes, params, r0, rows, u, rowBytes, unitsPerGroup, groups, paramCount);
            }
        }
    }
    finish_slabs<R, NT>(acc, y, rows, n, r0, t0, nt, partial, counters);
}

// One activation row, WIDE_R1 weight rows per warp, WIDE_UNITS units per lane in flight (CudaMatMul.variantRows).
extern "C" __global__ void __launch_bounds__(STAGED_THREADS, 2) gemv_wide_1(STAGED_ARGS) {
    gemv_wide<WIDE_R1, 1, WIDE_UNITS>(STAGED_PASS);
}

// Up to four activation rows, 2 weight rows per warp, WIDE_UNITS units per lane in flight.
extern "C" __global__ void __launch_bounds__(STAGED_THREADS, 2) gemv_wide_4(STAGED_ARGS) {
    gemv_wide<2, 4, WIDE_UNITS>(STAGED_PASS);
}

// ---- gemv_bulk_*: bulk copies (TMA, cp.async.bulk) of whole row chunks into a per-warp ring in shared memory -------
// Each warp owns a ring of BULK_STAGES steps; a step is 32 units of each of its R rows, R contiguous chunks of
// 32·4·BITS bytes that lane 0 requests with one bulk copy per row, completing on the step's mbarrier (expected bytes
// set by the same lane). All stages are requested at the start, before the activations are staged, so a slab of up
// to BULK_STAGES steps per warp is wholly in flight at once and costs no registers; a step is refilled as soon as
// its lanes have read their unit into registers. Lane l reads unit l of each row of a step (4·BITS bytes at l·4·BITS:
// 16-byte reads for 4 bits, conflict-free). The group parameters (a few bytes) go through registers one ring ahead
// (raw fp16, one register per unit and row). Needs rows of a multiple of 16 bytes (bulk copies move 16-byte
// multiples between 16-byte aligned addresses; CudaMatMul falls back to gemv_staged_* otherwise). Dynamic shared memory: the activation slab
// (NT·slabUnits·SLOTS_PER_UNIT float4), up to 127 bytes of padding to a 128-byte boundary, then 8 warps ×
// BULK_STAGES × R × 32·UNIT_BYTES bytes, then 8 × BULK_STAGES mbarriers of 8 bytes.
__device__ __forceinline__ void bar_init(unsigned long long* bar, unsigned int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"((unsigned int) __cvta_generic_to_shared(bar)), "r"(count));
}

__device__ __forceinline__ void bar_expect(unsigned long long* bar, unsigned int bytes) {
    asm volatile("{\n\t.reg .b64 state;\n\tmbarrier.arrive.expect_tx.shared::cta.b64 state, [%0], %1;\n\t}"
            :: "r"((unsigned int) __cvta_generic_to_shared(bar)), "r"(bytes) : "memory");
}

__device__ __forceinline__ void bulk_copy(void* dst, const void* src, unsigned int bytes, unsigned long long* bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
            :: "r"((unsigned int) __cvta_generic_to_shared(dst)), "l"(src), "r"(bytes), "r"((unsigned int) __cvta_generic_to_shared(bar))
            : "memory");
}

// Waits for the phase of `parity` to complete. A copy that never lands (a bug, not a load) ends the kernel with a
// trap after a second of waiting (the global timer, read only once the first poll failed) instead of hanging the device.
__device__ __forceinline__ bool bar_try(unsigned int a, unsigned int parity) {
    unsigned int done;
    asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\tselp.u32 %0, 1, 0, p;\n\t}"
            : "=r"(done) : "r"(a), "r"(parity) : "memory");
    return done != 0;
}

__device__ __forceinline__ unsigned long long global_nanos() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__device__ __forceinline__ void bar_wait(unsigned long long* bar, unsigned int parity) {
    const unsigned int a = (unsigned int) __cvta_generic_to_shared(bar);
    if (bar_try(a, parity)) return;
    const unsigned long long start = global_nanos();
    while (!bar_try(a, parity)) {
        if (global_nanos() - start > 1000000000ull) asm volatile("trap;");
    }
}

template <int R, int NT>
__device__ __forceinline__ void gemv_bulk(STAGED_ARGS) {
    constexpr int S = BULK_STAGES;
    constexpr int CHUNK = 32 * UNIT_BYTES; // one row's part of a step
    extern __shared__ float4 xs[];
#if !AFFINE
#if NEED_B
    __shared__ float2 tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
#else
    __shared__ float tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = table[i];
#endif
#else
    const float* tab = nullptr;
#endif
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int r0 = (blockIdx.x * STAGED_WARPS + warp) * R;
    const int t0 = blockIdx.z * NT;
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const int u0 = blockIdx.y * slabUnits, u1 = min(units, u0 + slabUnits);
    const size_t rowBytes = (size_t) units * UNIT_BYTES;
    unsigned char* rings = reinterpret_cast<unsigned char*>(xs + NT * slabUnits * SLOTS_PER_UNIT);
    rings += (128u - ((unsigned int) __cvta_generic_to_shared(rings) & 127u)) & 127u; // bulk copies want 16-byte aligned targets
    unsigned char* ring = rings + (size_t) warp * S * R * CHUNK;
    unsigned long long* bars = reinterpret_cast<unsigned long long*>(rings + (size_t) STAGED_WARPS * S * R * CHUNK) + warp * S;
    const int steps = (u1 - u0 + 31) / 32;

    if (lane == 0) {
#pragma unroll
        for (int s = 0; s < S; s++) bar_init(bars + s, 1);
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncwarp();

    unsigned int pw[S][R]; // the units' fp16 parameters as loaded (p0 in the low half, p1 or 0 in the high half)
    // Step k (32 units from u0 + 32k) into ring stage `slot`: the bulk copies by lane 0, each lane its unit's parameters.
    auto issue = [&](int k, int slot) {
        if (k >= steps) return;
        const int ub = u0 + 32 * k;
        const unsigned int bytes = (unsigned int) min(32, u1 - ub) * UNIT_BYTES;
        if (lane == 0) {
            // the lanes' generic reads of this stage (ordered before by __syncwarp) come before the async proxy's writes
            asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
            bar_expect(bars + slot, R * bytes);
#pragma unroll
            for (int i = 0; i < R; i++) {
                const int r = min(r0 + i, rows - 1);
                bulk_copy(ring + (size_t) (slot * R + i) * CHUNK, codes + (size_t) r * rowBytes + (size_t) ub * UNIT_BYTES, bytes, bars + slot);
            }
        }
        const int u = ub + lane;
        if (u < u1) {
            const int g = u / unitsPerGroup;
#pragma unroll
            for (int i = 0; i < R; i++) {
                const int r = min(r0 + i, rows - 1);
                const unsigned short* pr = params + ((size_t) r * groups + g) * paramCount;
                // two parameters start on a 4-byte boundary: one load for both
                pw[slot][i] = paramCount > 1 ? __ldg(reinterpret_cast<const unsigned int*>(pr)) : (unsigned int) __ldg(pr);
            }
        }
    };
#pragma unroll
    for (int s = 0; s < S; s++) issue(s, s);
    stage_activations<NT>(xs, x, inScale, cols, t0, nt, u0, u1, slabUnits);
    __syncthreads();

    float acc[R * NT];
#pragma unroll
    for (int i = 0; i < R * NT; i++) acc[i] = 0.0f;
    for (int base = 0; base < steps; base += S) {
        const unsigned int parity = (unsigned int) (base / S) & 1u;
#pragma unroll
        for (int s = 0; s < S; s++) {
            const int k = base + s;
            if (k < steps) {
                bar_wait(bars + s, parity);
                UnitCodes<R> c;
#pragma unroll
                for (int i = 0; i < R; i++) {
                    load_unit(ring + (size_t) (s * R + i) * CHUNK + lane * UNIT_BYTES, c.w[i]); // widest aligned shared loads
                    c.p0[i] = half_to_float((unsigned short) (pw[s][i] & 0xffffu));
#if NEED_SX || NEED_B
                    c.p1[i] = half_to_float((unsigned short) (pw[s][i] >> 16));
#endif
                }
                __syncwarp(); // every lane has its unit: the stage may be refilled
                issue(k + S, s);
                const int u = u0 + 32 * k + lane;
                if (u < u1) sum_unit<R, NT>(c, xs + (u - u0) * SLOTS_PER_UNIT, slabUnits * SLOTS_PER_UNIT, tab, affineOffset, acc);
            }
        }
    }
    finish_slabs<R, NT>(acc, y, rows, n, r0, t0, nt, partial, counters);
}

// One activation row, STAGED_R1 weight rows per warp (as gemv_staged_1), BULK_STAGES steps of 32 units in flight per warp.
extern "C" __global__ void __launch_bounds__(STAGED_THREADS, 2) gemv_bulk_1(STAGED_ARGS) {
    gemv_bulk<STAGED_R1, 1>(STAGED_PASS);
}

// Up to four activation rows, 2 weight rows per warp.
extern "C" __global__ void __launch_bounds__(STAGED_THREADS, 2) gemv_bulk_4(STAGED_ARGS) {
    gemv_bulk<2, 4>(STAGED_PASS);
}
// ---- gemv_persist_1: persistent warps streaming their row groups, each lane copying its own units with cp.async ------
// (It replaced gemv_stream_1, the same design with one lane per warp requesting every chunk from the bulk-copy engine,
// one request per row and step of 512 bytes: 24.6 µs at 4096×14336 int4 against 18.5 for staged.) Every lane copies
// the units it will sum itself (copy_unit_async, as gemv_async_1: 4·BITS bytes per row and step),
// so the ring needs no barriers and no row alignment: each lane waits for its own oldest group. The grid is one wave
// (CudaMatMul: as many blocks as fit per multiprocessor × SMs, fewer where the row groups end first), the row's
// activations staged once per block (no column slabs, no slab sums), warp v of the grid taking row groups (PERSIST_R1
// rows each) v, v + W, ... (W warps in all: a fixed, deterministic assignment), its steps back to back across them, so
// the ring requests the next group's first units while the current group's last ones are summed.
// Dynamic shared memory: the activations (units·SLOTS_PER_UNIT float4), then 8 warps × PERSIST_STAGES × R × 32 units.
#ifndef PERSIST_STAGES
#define PERSIST_STAGES 4
#endif
#ifndef PERSIST_R1
#define PERSIST_R1 2
#endif

template <int R>
__device__ __forceinline__ void gemv_persist(STAGED_ARGS) {
    constexpr int S = PERSIST_STAGES;
    extern __shared__ float4 xs[];
#if !AFFINE
#if NEED_B
    __shared__ float2 tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
#else
    __shared__ float tab[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = table[i];
#endif
#else
    const float* tab = nullptr;
#endif
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int units = (cols + 31) / 32;
    const size_t rowBytes = (size_t) units * UNIT_BYTES;
    // slot s, row i of this warp's ring: 32 units, lane l's at l·UNIT_BYTES
    unsigned char* ring = reinterpret_cast<unsigned char*>(xs + slabUnits * SLOTS_PER_UNIT) + (size_t) warp * S * R * 32 * UNIT_BYTES;
    const int stepsPerGroup = (units + 31) / 32;
    const int rowGroups = (rows + R - 1) / R;
    const int warps = gridDim.x * STAGED_WARPS;
    const int g0 = blockIdx.x * STAGED_WARPS + warp;
    const int myGroups = g0 < rowGroups ? (rowGroups - g0 + warps - 1) / warps : 0;
    const int total = myGroups * stepsPerGroup; // this warp's steps, all row groups one after the other

    unsigned int pw[S][R];
    // Step j into slot s: this lane's unit of each of the R rows, and its group's parameters into registers.
    auto issue = [&](int j, int slot) {
        if (j < total) {
            const int k = j / stepsPerGroup, c = j - k * stepsPerGroup;
            const int r0 = (g0 + k * warps) * R;
            const int u = 32 * c + lane;
            if (u < units) {
                const int g = u / unitsPerGroup;
#pragma unroll
                for (int i = 0; i < R; i++) {
                    const int r = min(r0 + i, rows - 1); // rows past the end repeat the last one and are not written
                    copy_unit_async(ring + (size_t) ((slot * R + i) * 32 + lane) * UNIT_BYTES, codes + (size_t) r * rowBytes + (size_t) u * UNIT_BYTES);
                    const unsigned short* pr = params + ((size_t) r * groups + g) * paramCount;
                    pw[slot][i] = paramCount > 1 ? __ldg(reinterpret_cast<const unsigned int*>(pr)) : (unsigned int) __ldg(pr);
                }
            }
        }
        asm volatile("cp.async.commit_group;" ::: "memory"); // one group per step, empty or not: the waits count steps
    };
#pragma unroll
    for (int s = 0; s < S; s++) issue(s, s);
    stage_activations<1>(xs, x, inScale, cols, 0, 1, 0, units, slabUnits);
    __syncthreads();

    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) acc[i] = 0.0f;
    for (int base = 0; base < total; base += S) {
#pragma unroll
        for (int s = 0; s < S; s++) {
            const int j = base + s;
            if (j < total) {
                asm volatile("cp.async.wait_group %0;" :: "n"(S - 1) : "memory"); // step j (the oldest in flight) has landed
                const int k = j / stepsPerGroup, ci = j - k * stepsPerGroup;
                const int u = 32 * ci + lane;
                UnitCodes<R> c;
                if (u < units) {
#pragma unroll
                    for (int i = 0; i < R; i++) {
                        load_unit(ring + (size_t) ((s * R + i) * 32 + lane) * UNIT_BYTES, c.w[i]);
                        c.p0[i] = half_to_float((unsigned short) (pw[s][i] & 0xffffu));
#if NEED_SX || NEED_B
                        c.p1[i] = half_to_float((unsigned short) (pw[s][i] >> 16));
#endif
                    }
                }
                __syncwarp(); // the slot's reads are done before the copy into it starts (compiler and memory order)
                issue(j + S, s);
                if (u < units) sum_unit<R, 1>(c, xs + u * SLOTS_PER_UNIT, 0, tab, affineOffset, acc);
                if (ci == stepsPerGroup - 1) { // the group's rows are complete: written by one lane each, then the next group
                    float v[R];
#pragma unroll
                    for (int i = 0; i < R; i++) {
                        v[i] = acc[i];
                        acc[i] = 0.0f;
                    }
                    warp_transpose_sum<R>(v, lane);
                    const int i = transpose_index<R>(lane);
                    const int r0 = (g0 + k * warps) * R;
                    if ((lane & (32 / R - 1)) == 0 && r0 + i < rows) STORE_Y(y[r0 + i], v[0]);
                }
            }
        }
    }
    asm volatile("cp.async.wait_all;" ::: "memory"); // no copy outlives the block (the last issues were empty groups)
}

// One activation row, PERSIST_R1 weight rows per warp, PERSIST_STAGES steps in flight per lane across its row groups.
extern "C" __global__ void __launch_bounds__(STAGED_THREADS) gemv_persist_1(STAGED_ARGS) {
    gemv_persist<PERSIST_R1>(STAGED_PASS);
}
// ---- gemv_tc_1: 4-bit INT codes on tensor cores (one activation row) ----------------------------------------------
// The staged kernels spend about four instructions per code (ncu, H200: 40 % of issue slots at 35 % of DRAM), so
// reaching the bandwidth needs fewer instructions per byte, not more bytes in flight (gemv_persist_1 had both and was
// slower). Here a warp computes 16 rows with mma.m16n8k16: the weights are the A operand as exact fp16 integers (one
// shift, one and-or and one sub.f16x2 per two codes), the activations the B operand, split into fp16 hi + lo parts
// (x·2^-e = hi + lo, |lo| <= 2^-11 |hi|) so the two products sum to x to ~2^-22: fp32 accuracy, on the tensor cores.
// e is chosen per step of 128 columns so that the step's largest |x| lands just below 2^15 (no fp16 overflow, no
// subnormal hi parts), and the step's sum is scaled back by 2^e (exact).
//   Lanes (g = lane / 4, t = lane % 4) hold rows g and g + 8 of the warp's 16; a step is 4 units (128 codes): lane t
// copies unit 4s + t of both rows (16 bytes each, cp.async ring as gemv_persist_1). Word k of a unit holds codes
// 4k..4k+3 (low nibbles) and 16+4k.. (high nibbles); for each (k, nibble half h) one MMA pair takes, in its k order
// 2t, 2t+1, 2t+8, 2t+9, the codes 4k+16h + {0, 2, 1, 3} of lane t's unit, so the A registers are the pairs
// (word >> 4h) & 0x000F000F and (word >> (4h + 8)) & 0x000F000F of rows g and g + 8, and the activation slot of
// (unit, k, h) holds hi and lo of the same four columns in that order. Any k order is right as long as A and B share it.
// Per step, each row gets p0·(sum c·x + (a0 - p1)·sum x) of the step's group (a group is a whole number of steps:
// unitsPerGroup % 4 == 0). The block's 8 warps split a 16-row tile's steps (warp w: steps w, w + 8, ...) and add their
// sums in warp order (deterministic); blocks are one wave and take tiles blockIdx.x, + gridDim.x, ... with x staged once.
// Needs cols % 128 == 0 and unitsPerGroup % 4 == 0 (CudaMatMul falls back to gemv_staged_1 otherwise).
// Dynamic shared memory: units·9 activation slots of 16 bytes, 2 floats per step, 8·16 floats, then the rings
// (8 warps × TC_STAGES × 32 lanes × 32 bytes).
#if BITS == 4 && AFFINE
#ifndef TC_STAGES
#define TC_STAGES 4
#endif

__device__ __forceinline__ unsigned int tc_pair(unsigned int word, int shift) {
    unsigned int d, c = ((word >> shift) & 0x000F000Fu) | 0x64006400u;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(c), "r"(0x64006400u)); // 1024 + code - 1024: the code, exactly
    return d;
}

__device__ __forceinline__ void tc_mma(float (&c)[4], const unsigned int (&a)[4], unsigned int b0, unsigned int b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned int tc_half2(float lo, float hi) {
    unsigned int d;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
}

__device__ __forceinline__ float tc_half_lo(unsigned int h2) { return half_to_float((unsigned short) (h2 & 0xffffu)); }
__device__ __forceinline__ float tc_half_hi(unsigned int h2) { return half_to_float((unsigned short) (h2 >> 16)); }

__device__ __forceinline__ void gemv_tc(STAGED_ARGS) {
    constexpr int S = TC_STAGES, W = STAGED_WARPS;
    extern __shared__ uint4 tcs[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    const int units = cols / 32, steps = units / 4;
    const size_t rowBytes = (size_t) units * 16;
    uint4* slots = tcs;                                                      // [units][9]
    float* stepSum = reinterpret_cast<float*>(slots + (size_t) units * SLOTS_PER_UNIT); // [steps]: sum of x
    float* stepExp = stepSum + steps;                                        // [steps]: 2^e
    float* red = stepExp + steps;                                            // [W][16]
    unsigned char* ring = reinterpret_cast<unsigned char*>(tcs) + (((size_t) units * SLOTS_PER_UNIT * 16 + 8 * steps + 4 * W * 16 + 15) & ~(size_t) 15)
            + (size_t) warp * S * 32 * 32;

    const int tiles = (rows + 15) / 16;
    const int myTiles = blockIdx.x < tiles ? (tiles - blockIdx.x + gridDim.x - 1) / gridDim.x : 0;
    const int perTile = warp < steps ? (steps - warp + W - 1) / W : 0; // this warp's steps of a tile
    const int total = myTiles * perTile;

    unsigned int pw[S][2];
    auto issue = [&](int q, int slot) {
        if (q < total) {
            const int j = q / perTile, st = warp + W * (q - j * perTile);
            const int r0 = (blockIdx.x + j * gridDim.x) * 16;
            const int grp = 4 * st / unitsPerGroup;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int r = min(r0 + g + 8 * h, rows - 1); // rows past the end repeat the last one and are not written
                const unsigned int d = (unsigned int) __cvta_generic_to_shared(ring + ((size_t) slot * 32 + lane) * 32 + 16 * h);
                asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(d), "l"(codes + (size_t) r * rowBytes + (size_t) (4 * st + t) * 16)
                             : "memory");
                const unsigned short* pr = params + ((size_t) r * groups + grp) * paramCount;
                pw[slot][h] = paramCount > 1 ? __ldg(reinterpret_cast<const unsigned int*>(pr)) : (unsigned int) __ldg(pr);
            }
        }
        asm volatile("cp.async.commit_group;" ::: "memory");
    };
#pragma unroll
    for (int s = 0; s < S; s++) issue(s, s);

    // Per step: the sum of x (times the input scale) and the exponent that brings its largest |x| below 2^15.
    for (int st = warp; st < steps; st += W) {
        float4 v = *reinterpret_cast<const float4*>(x + (size_t) st * 128 + 4 * lane);
        if (inScale != nullptr) {
            const float4 sc = *reinterpret_cast<const float4*>(inScale + (size_t) st * 128 + 4 * lane);
            v = make_float4(v.x * sc.x, v.y * sc.y, v.z * sc.z, v.w * sc.w);
        }
        float sum = (v.x + v.y) + (v.z + v.w);
        float mx = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
        for (int o = 16; o > 0; o >>= 1) {
            sum += __shfl_xor_sync(0xffffffffu, sum, o);
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        }
        if (lane == 0) {
            stepSum[st] = sum;
            // 2^e with mx·2^-e in [2^14, 2^15): frexp-like from the exponent bits (mx = 0: e = 0)
            const int ex = mx > 0.0f ? max(-126, (int) ((__float_as_uint(mx) >> 23) & 0xff) - 127 - 14) : 0;
            stepExp[st] = __uint_as_float((unsigned int) (127 + ex) << 23);
        }
    }
    __syncthreads();
    // Slot (unit, k, h): {hi(c0), hi(c2)}, {hi(c1), hi(c3)}, {lo(c0), lo(c2)}, {lo(c1), lo(c3)} of columns 4k + 16h + c.
    for (int i = tid; i < units * 8; i += STAGED_THREADS) {
        const int u = i >> 3, k = (i >> 1) & 3, h = i & 1;
        const int c0 = u * 32 + 4 * k + 16 * h;
        float4 v = *reinterpret_cast<const float4*>(x + c0);
        if (inScale != nullptr) {
            const float4 sc = *reinterpret_cast<const float4*>(inScale + c0);
            v = make_float4(v.x * sc.x, v.y * sc.y, v.z * sc.z, v.w * sc.w);
        }
        const float inv = 1.0f / stepExp[u >> 2]; // a power of two: exact
        const float e[4] = {v.x * inv, v.y * inv, v.z * inv, v.w * inv};
        const unsigned int h02 = tc_half2(e[0], e[2]), h13 = tc_half2(e[1], e[3]);
        const unsigned int l02 = tc_half2(e[0] - tc_half_lo(h02), e[2] - tc_half_hi(h02));
        const unsigned int l13 = tc_half2(e[1] - tc_half_lo(h13), e[3] - tc_half_hi(h13));
        slots[u * SLOTS_PER_UNIT + 2 * k + h] = make_uint4(h02, h13, l02, l13);
    }
    __syncthreads();

    int q = 0;
    for (int j = 0; j < myTiles; j++) {
        const int r0 = (blockIdx.x + j * gridDim.x) * 16;
        float y0 = 0.0f, y8 = 0.0f; // rows g and g + 8 (batch column 2t; only t = 0 is the activation row)
        for (int i = 0; i < perTile; i++, q++) {
            const int slot = q % S, st = warp + W * i;
            asm volatile("cp.async.wait_group %0;" :: "n"(S - 1) : "memory");
            const uint4 wg = *reinterpret_cast<const uint4*>(ring + ((size_t) slot * 32 + lane) * 32);
            const uint4 w8 = *reinterpret_cast<const uint4*>(ring + ((size_t) slot * 32 + lane) * 32 + 16);
            const unsigned int pg = pw[slot][0], p8 = pw[slot][1];
            __syncwarp();
            issue(q + S, slot);
            const unsigned int wa[4] = {wg.x, wg.y, wg.z, wg.w}, wb[4] = {w8.x, w8.y, w8.z, w8.w};
            const uint4* xs = slots + (4 * st + t) * SLOTS_PER_UNIT;
            float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int k = 0; k < 4; k++) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const unsigned int a[4] = {tc_pair(wa[k], 4 * h), tc_pair(wb[k], 4 * h), tc_pair(wa[k], 4 * h + 8), tc_pair(wb[k], 4 * h + 8)};
                    const uint4 b = g == 0 ? xs[2 * k + h] : make_uint4(0u, 0u, 0u, 0u); // batch column g: only 0 is used
                    tc_mma(c, a, b.x, b.y);
                    tc_mma(c, a, b.z, b.w);
                }
            }
            // c[0] = row g, c[2] = row g + 8 (column 2t: the activation row for t = 0)
            const float scale = stepExp[st], sx = stepSum[st];
            const float p0g = tc_half_lo(pg), p08 = tc_half_lo(p8);
            const float p1g = paramCount > 1 ? tc_half_hi(pg) : 0.0f, p18 = paramCount > 1 ? tc_half_hi(p8) : 0.0f;
            y0 = fmaf(p0g, fmaf((float) affineOffset - p1g, sx, c[0] * scale), y0);
            y8 = fmaf(p08, fmaf((float) affineOffset - p18, sx, c[2] * scale), y8);
        }
        if (t == 0) {
            red[warp * 16 + g] = y0;
            red[warp * 16 + g + 8] = y8;
        }
        __syncthreads();
        if (tid < 16 && r0 + tid < rows) {
            float v = 0.0f;
            for (int w = 0; w < W; w++) v += red[w * 16 + tid];
            STORE_Y(y[r0 + tid], v);
        }
        __syncthreads();
    }
    asm volatile("cp.async.wait_all;" ::: "memory");
}

extern "C" __global__ void __launch_bounds__(STAGED_THREADS) gemv_tc_1(STAGED_ARGS) {
    gemv_tc(STAGED_PASS);
}
#endif // BITS == 4 && AFFINE
#endif // GEMV_VARIANTS
