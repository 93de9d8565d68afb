// variants: -DWTYPE=0 | -DWTYPE=1 | -DWTYPE=2 | -DWTYPE=3 | -DWTYPE=4 | -DWTYPE=2 -DACCUMULATE=1 | -DWTYPE=3 -DACCUMULATE=1
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

#include "pdl.cuh"
// programmatic launch: gemv

// rowBytes: bytes of one weight row; vec: whether rows and activations allow 16-byte loads (cols % 8 == 0 and
// 16-byte aligned rows for the 16-bit types, cols % 4 == 0 for F32).
extern "C" __global__ void __launch_bounds__(WARPS * 32) gemv(const unsigned char* __restrict__ w, const float* __restrict__ x,
        float* __restrict__ y, int rows, int cols, int n, long long rowBytes, int vec) {
    PDL_TRIGGER();
    PDL_WAIT(); // before the early return: the launch after this one relies on every block having waited
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
        if (lane == 0 && t < nt) STORE_Y(y[(size_t) (t0 + t) * rows + r], s);
    }
}

#if WTYPE == 3 || WTYPE == 4
// ---- Staged GGML GEMV (gemv_ggml_staged_*): Q8_0 / Q4_0 with whole-warp 16-byte loads -----------------------------
// gemv above gives each lane one 34- or 18-byte block and reads it with 2-byte loads, and reads x for every weight
// row: both load streams touch a new cache line per lane. Here a block copies its slab of x into shared memory once
// (padded as in gemv_packed.cu's staged kernels), each warp owns R rows, and per step of 32 GGML blocks the warp
// loads each row's 32 blocks as contiguous 16-byte words (coalesced) into its own shared buffer, then lane l
// decodes block l of every row from there. Rows must start 16-byte aligned and slabs on multiples of 32 blocks
// (32 blocks are 1088 / 576 bytes, whole 16-byte words). Grid (ceil(rows / (8·R)), slabs, ceil(n / NA)).
#define G_THREADS 256
#define G_WARPS (G_THREADS / 32)
#define G_SLOTS 9
#define BLOCK_BYTES (WTYPE == 3 ? 34 : 18)
#define STEP_WORDS (32 * BLOCK_BYTES / 16) // 16-byte words of 32 blocks: 68 or 36

// Sum over block `b` of row buffer `blk` (BLOCK_BYTES bytes, 2-byte aligned) times NA staged activation rows.
template <int NA>
__device__ __forceinline__ void ggml_block(const unsigned char* blk, const float4* xs, int tStride, float (&acc)[NA]) {
    const unsigned short* h = reinterpret_cast<const unsigned short*>(blk);
    const float d = half_to_float(h[0]);
    float s[NA];
#pragma unroll
    for (int t = 0; t < NA; t++) s[t] = 0.0f;
#if WTYPE == 3
#pragma unroll
    for (int k = 0; k < 8; k++) {
        // Codes 4k..4k+3: two 2-byte halves (the quants sit 2 bytes past a 4-byte boundary).
        const unsigned int q = (unsigned int) h[1 + 2 * k] | ((unsigned int) h[2 + 2 * k] << 16);
        float wv[4];
#pragma unroll
        for (int j = 0; j < 4; j++) wv[j] = (float) (signed char) ((q >> (8 * j)) & 0xff);
#pragma unroll
        for (int t = 0; t < NA; t++) {
            const float4 a = xs[t * tStride + k];
            s[t] = fmaf(wv[0], a.x, fmaf(wv[1], a.y, fmaf(wv[2], a.z, fmaf(wv[3], a.w, s[t]))));
        }
    }
#else
#pragma unroll
    for (int k = 0; k < 4; k++) {
        // Bytes 4k..4k+3 hold elements 4k..4k+3 (low nibbles) and 16+4k.. (high nibbles).
        const unsigned int q = (unsigned int) h[1 + 2 * k] | ((unsigned int) h[2 + 2 * k] << 16);
        float lo[4], hi[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            lo[j] = (float) ((int) ((q >> (8 * j)) & 15) - 8);
            hi[j] = (float) ((int) ((q >> (8 * j + 4)) & 15) - 8);
        }
#pragma unroll
        for (int t = 0; t < NA; t++) {
            const float4 a = xs[t * tStride + k], b = xs[t * tStride + 4 + k];
            s[t] = fmaf(lo[0], a.x, fmaf(lo[1], a.y, fmaf(lo[2], a.z, fmaf(lo[3], a.w, s[t]))));
            s[t] = fmaf(hi[0], b.x, fmaf(hi[1], b.y, fmaf(hi[2], b.z, fmaf(hi[3], b.w, s[t]))));
        }
    }
#endif
#pragma unroll
    for (int t = 0; t < NA; t++) acc[t] = fmaf(d, s[t], acc[t]);
}

template <int R, int NA>
__device__ __forceinline__ void ggml_staged(const unsigned char* __restrict__ w, const float* __restrict__ x, float* __restrict__ y,
        int rows, int cols, int n, long long rowBytes, int slabBlocks, float* __restrict__ partial, unsigned int* __restrict__ counters) {
    extern __shared__ float4 smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    float4* xs = smem;
    uint4* wbuf = reinterpret_cast<uint4*>(smem + NA * slabBlocks * G_SLOTS) + warp * R * STEP_WORDS;
    const int r0 = (blockIdx.x * G_WARPS + warp) * R;
    const int t0 = blockIdx.z * NA;
    const int nt = min(NA, n - t0);
    const int blocks = cols / 32;
    const int b0 = blockIdx.y * slabBlocks, b1 = min(blocks, b0 + slabBlocks);
    for (int t = 0; t < NA; t++) {
        const float4* xr = reinterpret_cast<const float4*>(x + (size_t) (t0 + min(t, nt - 1)) * cols + (size_t) b0 * 32);
        for (int f = tid; f < (b1 - b0) * 8; f += G_THREADS) xs[t * slabBlocks * G_SLOTS + (f >> 3) * G_SLOTS + (f & 7)] = __ldg(xr + f);
    }
    __syncthreads();
    float acc[R][NA];
#pragma unroll
    for (int i = 0; i < R; i++)
#pragma unroll
        for (int t = 0; t < NA; t++) acc[i][t] = 0.0f;
    for (int b = b0; b < b1; b += 32) {
        // The words of 32 blocks (fewer at the row's end) of each row, loaded by the whole warp.
        const int words = (min(32, b1 - b) * BLOCK_BYTES + 15) / 16;
        uint4 v[R][(STEP_WORDS + 31) / 32];
#pragma unroll
        for (int i = 0; i < R; i++) {
            const uint4* src = reinterpret_cast<const uint4*>(w + (size_t) min(r0 + i, rows - 1) * rowBytes + (size_t) b * BLOCK_BYTES);
#pragma unroll
            for (int k = 0; k < (STEP_WORDS + 31) / 32; k++) {
                const int word = lane + 32 * k;
                if (word < words) v[i][k] = __ldg(src + word);
            }
        }
        __syncwarp();
#pragma unroll
        for (int i = 0; i < R; i++)
#pragma unroll
            for (int k = 0; k < (STEP_WORDS + 31) / 32; k++) {
                const int word = lane + 32 * k;
                if (word < words) wbuf[i * STEP_WORDS + word] = v[i][k];
            }
        __syncwarp();
        if (b + lane < b1) {
            const float4* xb = xs + (b - b0 + lane) * G_SLOTS;
#pragma unroll
            for (int i = 0; i < R; i++) {
                ggml_block<NA>(reinterpret_cast<const unsigned char*>(wbuf + i * STEP_WORDS) + lane * BLOCK_BYTES, xb, slabBlocks * G_SLOTS, acc[i]);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < R; i++) {
#pragma unroll
        for (int t = 0; t < NA; t++) {
            const float s = warp_sum(acc[i][t]);
            if (lane == 0 && t < nt && r0 + i < rows) {
                if (gridDim.y == 1) STORE_Y(y[(size_t) (t0 + t) * rows + r0 + i], s);
                else partial[((size_t) blockIdx.y * n + t0 + t) * rows + r0 + i] = s;
            }
        }
    }
    if (gridDim.y == 1) return;
    // The last slab block of this row block to finish adds the slabs in order (as in gemv_packed.cu).
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
    const int rb = blockIdx.x * G_WARPS * R;
    for (int k = tid; k < G_WARPS * R * NA; k += G_THREADS) {
        const int rr = rb + k % (G_WARPS * R), tt = t0 + k / (G_WARPS * R);
        if (rr >= rows || tt >= n) continue;
        float s = 0.0f;
        for (int sl = 0; sl < gridDim.y; sl++) s += __ldcg(partial + ((size_t) sl * n + tt) * rows + rr);
        STORE_Y(y[(size_t) tt * rows + rr], s);
    }
}

#define G_ARGS const unsigned char* __restrict__ w, const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n, \
        long long rowBytes, int slabBlocks, float* __restrict__ partial, unsigned int* __restrict__ counters
#define G_PASS w, x, y, rows, cols, n, rowBytes, slabBlocks, partial, counters

// One activation row, 4 weight rows per warp; up to four activation rows, 2 weight rows per warp.
extern "C" __global__ void __launch_bounds__(G_THREADS) gemv_ggml_staged_1(G_ARGS) {
    ggml_staged<4, 1>(G_PASS);
}
extern "C" __global__ void __launch_bounds__(G_THREADS) gemv_ggml_staged_4(G_ARGS) {
    ggml_staged<2, 4>(G_PASS);
}

extern "C" __global__ void zero_counters(unsigned int* __restrict__ counters, int count) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < count; i += gridDim.x * blockDim.x) counters[i] = 0;
}
#endif
