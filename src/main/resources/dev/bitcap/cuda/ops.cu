// variants: -DOPS=1
// The element-wise and row-wise steps of a layer, launched by dev.bitcap.cuda.CudaOps. Activations are fp32
// rows; each kernel computes what the CPU backend's step of the same name computes (dev.bitcap.tensor.Ops).

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

__device__ __forceinline__ unsigned short float_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((u >> 16) | 0x40); // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u); // round to nearest even
    return (unsigned short) (u >> 16);
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float s = 0.0f;
    const int warps = blockDim.x >> 5;
    for (int i = 0; i < warps; i++) s += partial[i];
    return s;
}

#include "pdl.cuh"
// programmatic launch: embed rmsnorm_vec4 swiglu rope_append argmax_rows

// Row ids[t] of the embedding table (dtype 0 F32, 1 F16, 2 BF16, 3 Q8_0, 4 Q4_0) into x[t]. Grid: tokens.
extern "C" __global__ void embed(const unsigned char* __restrict__ table, int dtype, const int* __restrict__ ids,
        float* __restrict__ x, int d, long long rowBytes) {
    PDL_TRIGGER();
    PDL_WAIT();
    const int t = blockIdx.x;
    const unsigned char* row = table + (size_t) ids[t] * rowBytes;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float v;
        if (dtype == 0) {
            v = reinterpret_cast<const float*>(row)[i];
        } else if (dtype == 1) {
            v = half_to_float(reinterpret_cast<const unsigned short*>(row)[i]);
        } else if (dtype == 2) {
            v = __uint_as_float(((unsigned int) reinterpret_cast<const unsigned short*>(row)[i]) << 16);
        } else if (dtype == 3) {
            const unsigned char* blk = row + (size_t) (i / 32) * 34;
            v = half_to_float(blk[0] | (blk[1] << 8)) * (float) (signed char) blk[2 + (i & 31)];
        } else {
            const unsigned char* blk = row + (size_t) (i / 32) * 18;
            const int j = i & 31;
            const int b = blk[2 + (j & 15)];
            v = half_to_float(blk[0] | (blk[1] << 8)) * (float) ((j < 16 ? (b & 15) : (b >> 4)) - 8);
        }
        x[(size_t) t * d + i] = v;
    }
}

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, for rows of d floats (in place allowed). Grid: rows.
// inRows/outRows map block r to the row it reads and writes (null: r itself), so that the final norm can pick
// the last token of each sequence.
extern "C" __global__ void rmsnorm(const float* x, const float* __restrict__ w, float* out, int d, float eps,
        const int* __restrict__ inRows) {
    const int r = blockIdx.x;
    const float* xr = x + (size_t) (inRows ? inRows[r] : r) * d;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss);
    const float inv = (float) (1.0 / sqrt((double) (ss / d + eps)));
    float* o = out + (size_t) r * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = xr[i] * inv * w[i];
}

// Sum over the block in two shuffle levels (within each warp, then the warps' sums in warp 0); every thread gets
// the result. blockDim.x a multiple of 32, at most 1024.
__device__ float block_sum_shuffle(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (int) (blockDim.x >> 5) ? partial[lane] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

#define RMS_HELD 4 // float4s per thread kept in registers between the two passes

// rmsnorm for rows of d floats, d a multiple of 4 and every row 16-byte aligned: one block per row, 16-byte loads
// held in registers between the sum of squares and the scaling (x is read once), two-level shuffle reduction.
// Launched with about d / 16 threads so that each thread holds RMS_HELD float4s; a longer row re-reads the rest.
// In place allowed: each thread writes only the elements it read itself, after the block's sum.
extern "C" __global__ void rmsnorm_vec4(const float* x, const float* __restrict__ w, float* out, int d, float eps,
        const int* __restrict__ inRows) {
    PDL_TRIGGER();
    PDL_WAIT();
    const int r = blockIdx.x, d4 = d >> 2;
    const float4* xr = reinterpret_cast<const float4*>(x + (size_t) (inRows ? inRows[r] : r) * d);
    const float4* w4 = reinterpret_cast<const float4*>(w);
    float4* o = reinterpret_cast<float4*>(out + (size_t) r * d);
    float4 held[RMS_HELD];
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < RMS_HELD; k++) {
        const int i = threadIdx.x + k * blockDim.x;
        held[k] = i < d4 ? xr[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        ss += held[k].x * held[k].x + held[k].y * held[k].y + held[k].z * held[k].z + held[k].w * held[k].w;
    }
    for (int i = threadIdx.x + RMS_HELD * blockDim.x; i < d4; i += blockDim.x) {
        const float4 v = xr[i];
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    ss = block_sum_shuffle(ss);
    const float inv = (float) (1.0 / sqrt((double) (ss / d + eps)));
#pragma unroll
    for (int k = 0; k < RMS_HELD; k++) {
        const int i = threadIdx.x + k * blockDim.x;
        if (i < d4) {
            const float4 g = w4[i];
            o[i] = make_float4(held[k].x * inv * g.x, held[k].y * inv * g.y, held[k].z * inv * g.z, held[k].w * inv * g.w);
        }
    }
    for (int i = threadIdx.x + RMS_HELD * blockDim.x; i < d4; i += blockDim.x) {
        const float4 v = xr[i], g = w4[i];
        o[i] = make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
    }
}

// x[t][i] += b[i] for n rows of d.
extern "C" __global__ void add_bias(float* __restrict__ x, const float* __restrict__ b, int n, int d) {
    const long long total = (long long) n * d;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        x[i] += b[i % d];
    }
}

// y[i] += x[i].
extern "C" __global__ void add(float* __restrict__ y, const float* __restrict__ x, long long count) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < count; i += (long long) gridDim.x * blockDim.x) {
        y[i] += x[i];
    }
}

// g[i] = silu(g[i]) * u[i].
extern "C" __global__ void swiglu(float* __restrict__ g, const float* __restrict__ u, long long count) {
    PDL_TRIGGER();
    PDL_WAIT();
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < count; i += (long long) gridDim.x * blockDim.x) {
        const float v = g[i];
        g[i] = (float) (v / (1.0 + exp(-(double) v))) * u[i];
    }
}

// Rotary embedding in place on n tokens x heads heads of headDim, token t at position pos[t].
// style 0: pairs (2j, 2j+1); style 1: pairs (j, j + headDim/2). Grid: tokens x heads; block: headDim/2 threads.
extern "C" __global__ void rope(float* __restrict__ x, const int* __restrict__ pos, const float* __restrict__ invFreq,
        int heads, int headDim, int rowStride, int style) {
    const int t = blockIdx.x, h = blockIdx.y, half = headDim / 2;
    float* base = x + (size_t) t * rowStride + (size_t) h * headDim;
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        const double angle = (double) pos[t] * (double) invFreq[j];
        const float c = (float) cos(angle), s = (float) sin(angle);
        const int a = style == 0 ? 2 * j : j;
        const int b = style == 0 ? 2 * j + 1 : j + half;
        const float x0 = base[a], x1 = base[b];
        base[a] = x0 * c - x1 * s;
        base[b] = x0 * s + x1 * c;
    }
}

// Stores the key and value rows of n tokens in their sequences' caches: token t writes position pos[t] of the
// caches at kBase[t] / vBase[t], laid out [position][layer][kvDim]. Grid: tokens.
extern "C" __global__ void kv_append(const float* __restrict__ k, const float* __restrict__ v, const unsigned long long* __restrict__ kBase,
        const unsigned long long* __restrict__ vBase, const int* __restrict__ pos, int kvDim, int layers, int layer) {
    const int t = blockIdx.x;
    const size_t off = ((size_t) pos[t] * layers + layer) * kvDim;
    float* kc = reinterpret_cast<float*>(kBase[t]) + off;
    float* vc = reinterpret_cast<float*>(vBase[t]) + off;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        kc[i] = k[(size_t) t * kvDim + i];
        vc[i] = v[(size_t) t * kvDim + i];
    }
}

// rope of the query and key heads of n tokens, then (kBase non-null) the rotated key row and the value row stored in
// the caches as kv_append does, in one launch: block (t, h) rotates query head h < heads, or key head h - heads, which
// it also writes to the cache with the matching value head. The same arithmetic as rope and kv_append (the check
// compares them bit for bit). Grid: tokens x (heads + kvHeads); block: headDim/2 threads (at most 1024).
extern "C" __global__ void rope_append(float* __restrict__ q, float* __restrict__ k, const float* __restrict__ v,
        const int* __restrict__ pos, const float* __restrict__ invFreq, int heads, int kvHeads, int headDim, int style,
        const unsigned long long* __restrict__ kBase, const unsigned long long* __restrict__ vBase, int layers, int layer) {
    PDL_TRIGGER();
    PDL_WAIT();
    const int t = blockIdx.x, hh = blockIdx.y, half = headDim / 2;
    const bool isKey = hh >= heads;
    const int h = isKey ? hh - heads : hh;
    const int kvDim = kvHeads * headDim;
    float* base = isKey ? k + (size_t) t * kvDim + (size_t) h * headDim : q + (size_t) t * heads * headDim + (size_t) h * headDim;
    float* kc = nullptr;
    float* vc = nullptr;
    if (isKey && kBase) {
        const size_t off = ((size_t) pos[t] * layers + layer) * kvDim + (size_t) h * headDim;
        kc = reinterpret_cast<float*>(kBase[t]) + off;
        vc = reinterpret_cast<float*>(vBase[t]) + off;
    }
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        const double angle = (double) pos[t] * (double) invFreq[j];
        const float c = (float) cos(angle), s = (float) sin(angle);
        const int a = style == 0 ? 2 * j : j;
        const int b = style == 0 ? 2 * j + 1 : j + half;
        const float x0 = base[a], x1 = base[b];
        const float r0 = x0 * c - x1 * s, r1 = x0 * s + x1 * c;
        base[a] = r0;
        base[b] = r1;
        if (kc) {
            kc[a] = r0;
            kc[b] = r1;
            const float* vr = v + (size_t) t * kvDim + (size_t) h * headDim;
            vc[a] = vr[a];
            vc[b] = vr[b];
        }
    }
}

// out[i] = x[rows[i]] for m rows of d floats. Grid: m.
extern "C" __global__ void gather_rows(const float* __restrict__ x, const int* __restrict__ rows, float* __restrict__ out, int d) {
    const int i = blockIdx.x;
    const float* src = x + (size_t) rows[i] * d;
    for (int j = threadIdx.x; j < d; j += blockDim.x) out[(size_t) i * d + j] = src[j];
}

// y[rows[i]] += scale[i] * src[i] for m rows of d floats (rows distinct within one launch). Grid: m.
extern "C" __global__ void scatter_add_scaled(float* __restrict__ y, const float* __restrict__ src, const int* __restrict__ rows,
        const float* __restrict__ scale, int d) {
    const int i = blockIdx.x;
    float* dst = y + (size_t) rows[i] * d;
    const float s = scale[i];
    for (int j = threadIdx.x; j < d; j += blockDim.x) dst[j] += s * src[(size_t) i * d + j];
}

// gate[t] = sigmoid(w . x[t]) for n rows of d (Qwen2-MoE's shared-expert gate). Grid: n.
extern "C" __global__ void sigmoid_gate(const float* __restrict__ w, const float* __restrict__ x, float* __restrict__ gate, int d) {
    const int t = blockIdx.x;
    float s = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) s += w[i] * x[(size_t) t * d + i];
    s = block_sum(s);
    if (threadIdx.x == 0) gate[t] = (float) (1.0 / (1.0 + exp(-(double) s)));
}

// out = x converted to fp16 (type 1) or bf16 (type 2), for cuBLAS products with 16-bit weights.
extern "C" __global__ void to_16bit(const float* __restrict__ x, unsigned short* __restrict__ out, long long count, int type) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < count; i += (long long) gridDim.x * blockDim.x) {
        out[i] = type == 1 ? float_to_half(x[i]) : float_to_bf16(x[i]);
    }
}

// ---- argmax_rows ----------------------------------------------------------------------------------------------------
// Ops.argmax, row by row: the first index of the largest value, where no comparison with NaN is true (so NaNs are
// passed over, except a NaN at index 0, which Ops.argmax starts from and never leaves). Here a NaN never enters a
// (value, index) pair; index -1 is the empty pair; and a NaN at index 0 is looked at once, at the end.

// Whether pair a comes before pair b: b empty, or a larger, or as large (-0 and +0 too) and earlier.
__device__ __forceinline__ bool argmax_before(float av, int ai, float bv, int bi) {
    return ai >= 0 && (bi < 0 || av > bv || (av == bv && ai < bi));
}

// One thread's next value, at an index past all it has seen: only a larger value replaces its pair.
__device__ __forceinline__ void argmax_take(float v, int i, float& bv, int& bi) {
    if (v == v && (bi < 0 || v > bv)) { // v == v: not NaN
        bv = v;
        bi = i;
    }
}

// Every lane of the warp ends with the warp's first pair.
__device__ __forceinline__ void argmax_warp(float& bv, int& bi) {
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (argmax_before(ov, oi, bv, bi)) {
            bv = ov;
            bi = oi;
        }
    }
}

// Within each warp by shuffles, then over the warps' pairs in warp 0: every lane of warp 0 ends with the block's pair.
// "before" is a strict order on pairs (indices differ), so the order of the combines does not change the winner.
__device__ void argmax_block(float& bv, int& bi) {
    __shared__ float warpValue[32];
    __shared__ int warpIndex[32];
    argmax_warp(bv, bi);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) {
        warpValue[warp] = bv;
        warpIndex[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        const bool has = lane < (int) (blockDim.x >> 5);
        bv = has ? warpValue[lane] : 0.0f;
        bi = has ? warpIndex[lane] : -1;
        argmax_warp(bv, bi);
    }
}

#define ARGMAX_LOADS 8 // loads each thread has in flight: one block reads a whole row (128256 floats for Llama 3)

// out[r] = Ops.argmax of row r of vocab floats. Grid: rows; block: a multiple of 32 threads, at most 1024. Each thread
// walks its strided slice in increasing index order (so a tie keeps its earlier index), ARGMAX_LOADS loads at a time.
extern "C" __global__ void argmax_rows(const float* __restrict__ logits, int vocab, int* __restrict__ out) {
    PDL_TRIGGER();
    PDL_WAIT();
    const float* row = logits + (size_t) blockIdx.x * vocab;
    const int step = blockDim.x;
    float bv = 0.0f;
    int bi = -1;
    int i = threadIdx.x;
    for (; i + (ARGMAX_LOADS - 1) * step < vocab; i += ARGMAX_LOADS * step) {
        float v[ARGMAX_LOADS];
#pragma unroll
        for (int k = 0; k < ARGMAX_LOADS; k++) v[k] = row[i + k * step];
#pragma unroll
        for (int k = 0; k < ARGMAX_LOADS; k++) argmax_take(v[k], i + k * step, bv, bi);
    }
    for (; i < vocab; i += step) argmax_take(row[i], i, bv, bi);
    argmax_block(bv, bi);
    if (threadIdx.x == 0) out[blockIdx.x] = bi < 0 || row[0] != row[0] ? 0 : bi; // all NaN, or NaN first: 0
}
