// variants: -DBITS=2 -DZERO_POINT=1 | -DBITS=3 -DZERO_POINT=0 | -DBITS=4 -DZERO_POINT=1 | -DBITS=4 -DZERO_POINT=0 | -DBITS=8 -DZERO_POINT=1
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

// y[t][r] = sum_c W[r][c] * (x[t][c] * inScale[c]) for n activation rows. One warp per weight row, one unit of
// 32 codes per lane and step, decoded once and used for up to NT activation rows. table: a[CODES] then b[CODES].
extern "C" __global__ void __launch_bounds__(WARPS * 32) gemv_packed(const unsigned char* __restrict__ codes,
        const unsigned short* __restrict__ params, const float* __restrict__ table, const float* __restrict__ inScale,
        const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n, int unitsPerGroup, int groups, int paramCount) {
    __shared__ float ta[CODES], tb[CODES];
    for (int i = threadIdx.x; i < CODES; i += blockDim.x) {
        ta[i] = table[i];
        tb[i] = table[CODES + i];
    }
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const int r = blockIdx.x * WARPS + (threadIdx.x >> 5);
    const int t0 = blockIdx.y * NT;
    if (r >= rows) return;
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const unsigned char* row = codes + (size_t) r * units * UNIT_BYTES;
    const unsigned short* prow = params + (size_t) r * groups * paramCount;
    const bool vec = (cols & 31) == 0 && inScale == nullptr;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.0f;
    for (int u = lane; u < units; u += 32) {
        int c[32];
        unpack(row + (size_t) u * UNIT_BYTES, c);
        const int g = u / unitsPerGroup;
        const float p0 = half_to_float(prow[g * paramCount]);
        const float p1 = paramCount > 1 ? half_to_float(prow[g * paramCount + 1]) : 0.0f;
        float w[32];
#pragma unroll
        for (int j = 0; j < 32; j++) w[j] = decode(c[j], ta, tb, p0, p1);
        const int col = u * 32;
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (t >= nt) break;
            const float* xr = x + (size_t) (t0 + t) * cols + col;
            float s = 0.0f;
            if (vec) {
#pragma unroll
                for (int j = 0; j < 32; j += 4) {
                    const float4 v = *reinterpret_cast<const float4*>(xr + j);
                    s += w[j] * v.x + w[j + 1] * v.y + w[j + 2] * v.z + w[j + 3] * v.w;
                }
            } else {
#pragma unroll
                for (int j = 0; j < 32; j++) {
                    if (col + j < cols) s += w[j] * (inScale ? xr[j] * inScale[col + j] : xr[j]);
                }
            }
            acc[t] += s;
        }
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        float s = acc[t];
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0 && t < nt) y[(size_t) (t0 + t) * rows + r] = s;
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
