// variants: -DWTYPE=0 | -DWTYPE=1 | -DWTYPE=2 | -DWTYPE=3 | -DWTYPE=4
// GEMV / small-batch GEMM launched by dev.bitcap.cuda.CudaMatMul: y[t][r] = sum_c W[r][c] * x[t][c] for
// n activation rows t. W is stored row-major in one of the weight types below, read in place (the bytes the
// loader mapped, uploaded once); x and y are fp32. One warp owns one weight row and reads it once for NT
// activation rows, with 16-byte loads where the row allows; the dot products accumulate in fp32.
// WTYPE: 0 F32, 1 F16, 2 BF16, 3 GGML Q8_0 (per 32: fp16 scale, 32 int8), 4 GGML Q4_0 (per 32: fp16 scale,
// 16 bytes; low nibbles are elements 0..15, high nibbles 16..31, offset 8).

#ifndef WTYPE
#error "WTYPE must be defined"
#endif
#define NT 4
#define WARPS 8

__device__ __forceinline__ float half_to_float(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ float bf16_to_float(unsigned short b) {
    return __uint_as_float(((unsigned int) b) << 16);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Adds w[0..7] . x[t][c..c+7] to acc[t] for the activation rows present.
__device__ __forceinline__ void dot8(const float w[8], const float* __restrict__ x, int cols, int c, int nt, float acc[NT]) {
#pragma unroll
    for (int t = 0; t < NT; t++) {
        if (t < nt) {
            const float4 a = *reinterpret_cast<const float4*>(x + (size_t) t * cols + c);
            const float4 b = *reinterpret_cast<const float4*>(x + (size_t) t * cols + c + 4);
            acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
        }
    }
}

__device__ __forceinline__ float scalar_weight(const unsigned char* row, int c) {
#if WTYPE == 0
    return reinterpret_cast<const float*>(row)[c];
#elif WTYPE == 1
    return half_to_float(reinterpret_cast<const unsigned short*>(row)[c]);
#elif WTYPE == 2
    return bf16_to_float(reinterpret_cast<const unsigned short*>(row)[c]);
#else
    return 0.0f;
#endif
}

// rowBytes: bytes of one weight row; vec: whether rows and activations allow 16-byte loads (cols % 8 == 0 and
// 16-byte aligned rows for the 16-bit types, cols % 4 == 0 for F32).
extern "C" __global__ void __launch_bounds__(WARPS * 32) gemv(const unsigned char* __restrict__ w, const float* __restrict__ x,
        float* __restrict__ y, int rows, int cols, int n, long long rowBytes, int vec) {
    const int lane = threadIdx.x & 31;
    const int r = blockIdx.x * WARPS + (threadIdx.x >> 5);
    const int t0 = blockIdx.y * NT;
    if (r >= rows) return;
    const int nt = min(NT, n - t0);
    const unsigned char* row = w + (size_t) r * rowBytes;
    const float* xs = x + (size_t) t0 * cols;
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) acc[t] = 0.0f;

#if WTYPE == 0 || WTYPE == 1 || WTYPE == 2
    if (vec) {
#if WTYPE == 0
        // 8 floats per step: two 16-byte loads per lane.
        for (int c = lane * 8; c < cols; c += 32 * 8) {
            const float4 a = *reinterpret_cast<const float4*>(row + (size_t) c * 4);
            const float4 b = *reinterpret_cast<const float4*>(row + (size_t) c * 4 + 16);
            const float wv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
            dot8(wv, xs, cols, c, nt, acc);
        }
#else
        for (int c = lane * 8; c < cols; c += 32 * 8) {
            const uint4 q = *reinterpret_cast<const uint4*>(row + (size_t) c * 2);
            const unsigned int u[4] = {q.x, q.y, q.z, q.w};
            float wv[8];
#pragma unroll
            for (int k = 0; k < 4; k++) {
#if WTYPE == 1
                wv[2 * k] = half_to_float((unsigned short) (u[k] & 0xffffu));
                wv[2 * k + 1] = half_to_float((unsigned short) (u[k] >> 16));
#else
                wv[2 * k] = __uint_as_float(u[k] << 16);
                wv[2 * k + 1] = __uint_as_float(u[k] & 0xffff0000u);
#endif
            }
            dot8(wv, xs, cols, c, nt, acc);
        }
#endif
    } else {
        for (int c = lane; c < cols; c += 32) {
            const float wv = scalar_weight(row, c);
#pragma unroll
            for (int t = 0; t < NT; t++) if (t < nt) acc[t] += wv * xs[(size_t) t * cols + c];
        }
    }
#elif WTYPE == 3
    // One Q8_0 block (34 bytes, 2-byte aligned) per lane and step.
    const int blocks = cols / 32;
    for (int b = lane; b < blocks; b += 32) {
        const unsigned short* blk = reinterpret_cast<const unsigned short*>(row + (size_t) b * 34);
        const float d = half_to_float(blk[0]);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float wv[8];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const unsigned short two = blk[1 + k * 4 + j];
                wv[2 * j] = d * (float) (signed char) (two & 0xff);
                wv[2 * j + 1] = d * (float) (signed char) (two >> 8);
            }
            dot8(wv, xs, cols, b * 32 + k * 8, nt, acc);
        }
    }
#elif WTYPE == 4
    // One Q4_0 block (18 bytes, 2-byte aligned) per lane and step.
    const int blocks = cols / 32;
    for (int b = lane; b < blocks; b += 32) {
        const unsigned short* blk = reinterpret_cast<const unsigned short*>(row + (size_t) b * 18);
        const float d = half_to_float(blk[0]);
        unsigned char q[16];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            q[2 * j] = (unsigned char) (blk[1 + j] & 0xff);
            q[2 * j + 1] = (unsigned char) (blk[1 + j] >> 8);
        }
#pragma unroll
        for (int half = 0; half < 2; half++) {
#pragma unroll
            for (int k = 0; k < 2; k++) {
                float wv[8];
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    const int nib = half == 0 ? (q[k * 8 + j] & 15) : (q[k * 8 + j] >> 4);
                    wv[j] = d * (float) (nib - 8);
                }
                dot8(wv, xs, cols, b * 32 + half * 16 + k * 8, nt, acc);
            }
        }
    }
#endif

#pragma unroll
    for (int t = 0; t < NT; t++) {
        const float s = warp_sum(acc[t]);
        if (lane == 0 && t < nt) y[(size_t) (t0 + t) * rows + r] = s;
    }
}
