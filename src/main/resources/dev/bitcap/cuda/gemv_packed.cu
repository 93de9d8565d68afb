// variants: -DBITS=2 -DZERO_POINT=1 -DAFFINE=1 | -DBITS=2 -DZERO_POINT=0 -DAFFINE=1 | -DBITS=2 -DZERO_POINT=0 -DAFFINE=0 | -DBITS=3 -DZERO_POINT=1 -DAFFINE=1 | -DBITS=3 -DZERO_POINT=0 -DAFFINE=1 | -DBITS=3 -DZERO_POINT=0 -DAFFINE=0 | -DBITS=4 -DZERO_POINT=1 -DAFFINE=1 | -DBITS=4 -DZERO_POINT=0 -DAFFINE=1 | -DBITS=4 -DZERO_POINT=0 -DAFFINE=0 | -DBITS=8 -DZERO_POINT=1 -DAFFINE=1 | -DBITS=8 -DZERO_POINT=0 -DAFFINE=1 | -DBITS=8 -DZERO_POINT=0 -DAFFINE=0
// Fused dequantize-GEMV over the packed quantized matrices of dev.bitcap.quant (layout: quant/PackedCodes.java),
// launched by dev.bitcap.cuda.CudaMatMul, and the dequantization to fp16 that feeds cuBLAS for prefill.
// A row is units of 32 codes in 4*BITS bytes (BITS 8: byte j = c_j; 4: byte k = c_k | c_{k+16} << 4; 2: byte k
// holds c_k, c_{k+8}, c_{k+16}, c_{k+24} at bits 0,2,4,6; 3: the 2-bit unit in bytes 0..7, then a 32-bit word
// whose bit j is bit 2 of c_j). Parameters: fp16 [rows][groups][paramCount]; groups start on unit boundaries.
// A code's value follows the format's decode table (quant/DecodeTable.java), with p1 = 0 for one-parameter formats:
//   ZERO_POINT: v = (a[c] - p1) * p0          otherwise: v = fma(b[c], p1, a[c] * p0)
// Activations are multiplied by the optional per-column input scale (AWQ) before the product.

#ifndef BITS
#error "BITS must be defined"
#endif
#ifndef ZERO_POINT
#error "ZERO_POINT must be defined"
#endif
#define NT 4
#define WARPS 8
#define CODES (1 << BITS)
#define UNIT_BYTES (4 * BITS)

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

// Code j (0..31) of a unit held as words (j a compile-time constant after unrolling).
__device__ __forceinline__ int code_of(const unsigned int w[BITS], int j) {
#if BITS == 8
    return (w[j >> 2] >> (8 * (j & 3))) & 0xff;
#elif BITS == 4
    return (w[(j & 15) >> 2] >> (8 * (j & 3) + 4 * (j >> 4))) & 15;
#else
    const int k = j & 7;
    int c = (w[k >> 2] >> (8 * (k & 3) + 2 * (j >> 3))) & 3;
#if BITS == 3
    c |= ((w[2] >> j) & 1) << 2;
#endif
    return c;
#endif
}

#ifndef AFFINE
#define AFFINE 0
#endif
#define ROWS_PER_WARP 4
#define NEEDS_P1 (ZERO_POINT || !AFFINE) // INT-sym decodes with its scale alone

// y[t][r] = sum_c W[r][c] * (x[t][c] * inScale[c]) for n activation rows. A warp owns ROWS_PER_WARP weight rows
// and each lane one unit of 32 codes per step: it loads that unit of every row first (independent loads in flight),
// then reads each activation chunk once for all the rows. AFFINE tables (INT formats: a[c] = c + affineOffset, b = 0)
// decode by arithmetic, with the same float operations as the table; other tables are read from shared memory.
extern "C" __global__ void __launch_bounds__(WARPS * 32) gemv_packed(const unsigned char* __restrict__ codes,
        const unsigned short* __restrict__ params, const float* __restrict__ table, const float* __restrict__ inScale,
        const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount,
        int affineOffset) {
#if !AFFINE
    __shared__ float2 tab[CODES]; // (a[c], b[c]) side by side: one shared-memory load per code
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) tab[i] = make_float2(table[i], table[CODES + i]);
    __syncthreads();
#else
    // (float) (c + affineOffset) as 2^23 + c - (2^23 - affineOffset): exact, and full-rate float adds instead of
    // the quarter-rate integer-to-float conversion.
    const float magicOffset = 8388608.0f - (float) affineOffset;
#endif
    const int lane = threadIdx.x & 31;
    const int r0 = (blockIdx.x * WARPS + (threadIdx.x >> 5)) * ROWS_PER_WARP;
    const int t0 = blockIdx.y * NT;
    if (r0 >= rows) return;
    const int nr = min(ROWS_PER_WARP, rows - r0);
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const size_t rowBytes = (size_t) units * UNIT_BYTES;
    const bool vec = (cols & 31) == 0 && inScale == nullptr;
    float acc[ROWS_PER_WARP][NT];
#pragma unroll
    for (int i = 0; i < ROWS_PER_WARP; i++)
#pragma unroll
        for (int t = 0; t < NT; t++) acc[i][t] = 0.0f;

    for (int u = lane; u < units; u += 32) {
        unsigned int w[ROWS_PER_WARP][BITS];
        float p0[ROWS_PER_WARP];
#if NEEDS_P1
        float p1[ROWS_PER_WARP];
#endif
        const int g = u / unitsPerGroup;
#pragma unroll
        for (int i = 0; i < ROWS_PER_WARP; i++) {
            const int r = min(r0 + i, rows - 1); // rows past the end repeat the last one and are not written
            load_unit(codes + (size_t) r * rowBytes + (size_t) u * UNIT_BYTES, w[i]);
            const unsigned short* pr = params + ((size_t) r * groups + g) * paramCount;
            p0[i] = half_to_float(pr[0]);
#if NEEDS_P1
            p1[i] = paramCount > 1 ? half_to_float(pr[1]) : 0.0f;
#endif
        }
        const int col = u * 32;
#pragma unroll
        for (int jc = 0; jc < 32; jc += 4) {
            // Four codes of every row decoded once, then used for each activation row.
            float v[ROWS_PER_WARP][4];
#pragma unroll
            for (int i = 0; i < ROWS_PER_WARP; i++) {
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const int c = code_of(w[i], jc + k);
#if AFFINE
                    const float a = __int_as_float(0x4B000000 | c) - magicOffset;
#if ZERO_POINT
                    v[i][k] = (a - p1[i]) * p0[i];
#else
                    v[i][k] = a * p0[i];
#endif
#else
                    const float2 ab = tab[c];
#if ZERO_POINT
                    v[i][k] = (ab.x - p1[i]) * p0[i];
#else
                    v[i][k] = fmaf(ab.y, p1[i], ab.x * p0[i]);
#endif
#endif
                }
            }
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
#pragma unroll
                for (int i = 0; i < ROWS_PER_WARP; i++) {
                    acc[i][t] += v[i][0] * xv[0] + v[i][1] * xv[1] + v[i][2] * xv[2] + v[i][3] * xv[3];
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < ROWS_PER_WARP; i++) {
#pragma unroll
        for (int t = 0; t < NT; t++) {
            float s = acc[i][t];
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
            if (lane == 0 && t < nt && i < nr) y[(size_t) (t0 + t) * rows + r0 + i] = s;
        }
    }
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
