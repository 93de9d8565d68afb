// variants: -DHEAD_DIM=16 | -DHEAD_DIM=64 | -DHEAD_DIM=128 | -DHEAD_DIM=256
// Causal attention over the fp32 KV caches, launched by dev.bitcap.cuda.CudaAttention. Every query token t (at
// position pos[t] of its sequence) and head h attends to positions 0..pos[t] of its KV head. The context is split
// into `splits` ranges (split-K, for parallelism when there are few queries, as in decode); each block walks its
// range in tiles of TILE positions with a running max and sum (online softmax), so any context length fits. With
// one split the block writes the normalised output; otherwise attend_combine merges the partial results.
// Caches are laid out [position][layer][kvHeads * HEAD_DIM] per sequence, at kBase[t] / vBase[t].

#ifndef HEAD_DIM
#error "HEAD_DIM must be defined"
#endif
#define THREADS 128
#define NEG_INF __int_as_float(0xff800000) // no math.h under NVRTC
#define WARPS (THREADS / 32)
#define TILE 64
#define PER_THREAD ((HEAD_DIM + THREADS - 1) / THREADS)

extern "C" __global__ void __launch_bounds__(THREADS) attend(const float* __restrict__ q, const unsigned long long* __restrict__ kBase,
        const unsigned long long* __restrict__ vBase, const int* __restrict__ pos, float* __restrict__ out, float* __restrict__ partial,
        float* __restrict__ stats, int heads, int kvHeads, int layers, int layer, int chunk, float scale) {
    const int h = blockIdx.x, t = blockIdx.y, s = blockIdx.z, splits = gridDim.z;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int kvDim = kvHeads * HEAD_DIM;
    const int kvh = h / (heads / kvHeads);
    const int len = pos[t] + 1;
    const int start = s * chunk, end = min(len, start + chunk);

    __shared__ float qs[HEAD_DIM];
    __shared__ float sc[TILE];
    for (int d = tid; d < HEAD_DIM; d += THREADS) qs[d] = q[(size_t) t * heads * HEAD_DIM + (size_t) h * HEAD_DIM + d];
    __syncthreads();

    const float* kc = reinterpret_cast<const float*>(kBase[t]) + (size_t) layer * kvDim + (size_t) kvh * HEAD_DIM;
    const float* vc = reinterpret_cast<const float*>(vBase[t]) + (size_t) layer * kvDim + (size_t) kvh * HEAD_DIM;
    const size_t rowStride = (size_t) layers * kvDim;

    float m = NEG_INF, l = 0.0f;
    float acc[PER_THREAD];
#pragma unroll
    for (int i = 0; i < PER_THREAD; i++) acc[i] = 0.0f;

    for (int p0 = start; p0 < end; p0 += TILE) {
        const int cnt = min(TILE, end - p0);
        for (int j = warp; j < cnt; j += WARPS) {
            const float* k = kc + (size_t) (p0 + j) * rowStride;
            float dot = 0.0f;
            for (int d = lane; d < HEAD_DIM; d += 32) dot += qs[d] * k[d];
            for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            if (lane == 0) sc[j] = dot * scale;
        }
        __syncthreads();
        float tm = NEG_INF;
        for (int j = 0; j < cnt; j++) tm = fmaxf(tm, sc[j]);
        const float mNew = fmaxf(m, tm);
        const float corr = expf(m - mNew); // 0 on the first tile (m = -inf)
        __syncthreads();
        for (int j = tid; j < cnt; j += THREADS) sc[j] = expf(sc[j] - mNew);
        __syncthreads();
        float ls = 0.0f;
        for (int j = 0; j < cnt; j++) ls += sc[j];
        l = l * corr + ls;
#pragma unroll
        for (int i = 0; i < PER_THREAD; i++) {
            const int d = tid + i * THREADS;
            if (d < HEAD_DIM) {
                float a = acc[i] * corr;
                for (int j = 0; j < cnt; j++) a += sc[j] * vc[(size_t) (p0 + j) * rowStride + d];
                acc[i] = a;
            }
        }
        m = mNew;
        __syncthreads();
    }

    const size_t slot = ((size_t) t * heads + h) * splits + s;
#pragma unroll
    for (int i = 0; i < PER_THREAD; i++) {
        const int d = tid + i * THREADS;
        if (d < HEAD_DIM) {
            if (splits == 1) {
                out[(size_t) t * heads * HEAD_DIM + (size_t) h * HEAD_DIM + d] = acc[i] / l;
            } else {
                partial[slot * HEAD_DIM + d] = acc[i];
            }
        }
    }
    if (splits > 1 && tid == 0) {
        stats[2 * slot] = m; // -inf with l = 0 for a range past this token's context
        stats[2 * slot + 1] = l;
    }
}

// Merges the splits of attend: out = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s. Grid: heads x tokens.
extern "C" __global__ void __launch_bounds__(THREADS) attend_combine(const float* __restrict__ partial, const float* __restrict__ stats,
        float* __restrict__ out, int heads, int splits) {
    const int h = blockIdx.x, t = blockIdx.y;
    const size_t base = ((size_t) t * heads + h) * splits;
    float mMax = NEG_INF;
    for (int s = 0; s < splits; s++) mMax = fmaxf(mMax, stats[2 * (base + s)]);
    float l = 0.0f;
    for (int s = 0; s < splits; s++) {
        const float ms = stats[2 * (base + s)];
        if (ms != NEG_INF) l += expf(ms - mMax) * stats[2 * (base + s) + 1];
    }
    for (int d = threadIdx.x; d < HEAD_DIM; d += THREADS) {
        float a = 0.0f;
        for (int s = 0; s < splits; s++) {
            const float ms = stats[2 * (base + s)];
            if (ms != NEG_INF) a += expf(ms - mMax) * partial[(base + s) * HEAD_DIM + d];
        }
        out[(size_t) t * heads * HEAD_DIM + (size_t) h * HEAD_DIM + d] = a / l;
    }
}
