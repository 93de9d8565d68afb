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

#include "pdl.cuh"
// programmatic launch: attend_gqa attend_combine

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
    PDL_TRIGGER();
    PDL_WAIT();
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

// ---- prefill: query tiles over shared key/value tiles ----------------------------------------------------------
// A block takes a tile of consecutive query tokens of one sequence and one KV head, with every query head that
// shares it (GQA): 4 warps x RPW rows, row = token * group + head-in-group. Key and value tiles of KT positions are
// staged in shared memory once for all those rows; each warp scores its rows against the tile (lane j: position
// j), keeps a running max and sum per row, and accumulates the values (lane i: dims i, i+32, ...). Positions past a
// row's own are masked (causal). tiles[2b], tiles[2b+1]: first token and token count of block b's tile.
#define KT 32
#define RPW (HEAD_DIM <= 128 ? 16 : 8)
#define PREFILL_ROWS (WARPS * RPW)
#define KSTRIDE (HEAD_DIM + 4) // rows stay 16-byte aligned; lanes reading one row each hit distinct banks
#define DPL ((HEAD_DIM + 31) / 32)

// Shared memory the prefill kernel needs, in bytes (the launcher sets the dynamic size to this).
#define PREFILL_SMEM ((PREFILL_ROWS * HEAD_DIM + KT * KSTRIDE + KT * HEAD_DIM + PREFILL_ROWS * KT) * 4)

extern "C" __global__ void __launch_bounds__(THREADS) attend_prefill(const float* __restrict__ q, const unsigned long long* __restrict__ kBase,
        const unsigned long long* __restrict__ vBase, const int* __restrict__ pos, const int* __restrict__ tiles, float* __restrict__ out,
        int heads, int kvHeads, int layers, int layer, float scale) {
    extern __shared__ float4 smem4[];
    float* qs = reinterpret_cast<float*>(smem4);       // [PREFILL_ROWS][HEAD_DIM], pre-scaled
    float* ks = qs + PREFILL_ROWS * HEAD_DIM;           // [KT][KSTRIDE]
    float* vs = ks + KT * KSTRIDE;                      // [KT][HEAD_DIM]
    float* ps = vs + KT * HEAD_DIM;                     // [PREFILL_ROWS][KT] softmax weights of the tile

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int first = tiles[2 * blockIdx.x], count = tiles[2 * blockIdx.x + 1];
    const int kvh = blockIdx.y, group = heads / kvHeads;
    const int kvDim = kvHeads * HEAD_DIM;
    const int rows = count * group;
    for (int i = tid; i < PREFILL_ROWS * HEAD_DIM; i += THREADS) {
        const int r = i / HEAD_DIM, d = i % HEAD_DIM;
        float v = 0.0f;
        if (r < rows) {
            const int t = first + r / group, h = kvh * group + r % group;
            v = q[(size_t) t * heads * HEAD_DIM + (size_t) h * HEAD_DIM + d] * scale;
        }
        qs[i] = v;
    }
    const float* kc = reinterpret_cast<const float*>(kBase[first]) + (size_t) layer * kvDim + (size_t) kvh * HEAD_DIM;
    const float* vc = reinterpret_cast<const float*>(vBase[first]) + (size_t) layer * kvDim + (size_t) kvh * HEAD_DIM;
    const size_t rowStride = (size_t) layers * kvDim;
    const int lastPos = pos[first + count - 1];

    float m[RPW], l[RPW], acc[RPW][DPL];
    int rowPos[RPW];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        m[r] = NEG_INF;
        l[r] = 0.0f;
        const int row = warp * RPW + r;
        rowPos[r] = row < rows ? pos[first + row / group] : -1; // -1: an empty row, never attends
#pragma unroll
        for (int i = 0; i < DPL; i++) acc[r][i] = 0.0f;
    }

    for (int p0 = 0; p0 <= lastPos; p0 += KT) {
        __syncthreads(); // the previous tile is no longer read (and, the first time, qs is written)
        for (int i = tid; i < KT * HEAD_DIM / 4; i += THREADS) {
            const int j = i / (HEAD_DIM / 4), d4 = i % (HEAD_DIM / 4);
            float4 kv = make_float4(0.0f, 0.0f, 0.0f, 0.0f), vv = kv;
            if (p0 + j <= lastPos) {
                kv = reinterpret_cast<const float4*>(kc + (size_t) (p0 + j) * rowStride)[d4];
                vv = reinterpret_cast<const float4*>(vc + (size_t) (p0 + j) * rowStride)[d4];
            }
            reinterpret_cast<float4*>(ks + j * KSTRIDE)[d4] = kv;
            reinterpret_cast<float4*>(vs + j * HEAD_DIM)[d4] = vv;
        }
        __syncthreads();
        // Scores of the warp's rows against position p0 + lane.
        float s[RPW];
#pragma unroll
        for (int r = 0; r < RPW; r++) s[r] = 0.0f;
        const float4* krow = reinterpret_cast<const float4*>(ks + lane * KSTRIDE);
#pragma unroll 4
        for (int d4 = 0; d4 < HEAD_DIM / 4; d4++) {
            const float4 k = krow[d4];
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                const float4 qv = reinterpret_cast<const float4*>(qs + (warp * RPW + r) * HEAD_DIM)[d4];
                s[r] += qv.x * k.x + qv.y * k.y + qv.z * k.z + qv.w * k.w;
            }
        }
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            if (rowPos[r] < p0) continue; // empty row, or all of this tile is in the row's future (warp-uniform)
            const bool valid = p0 + lane <= rowPos[r];
            float tmax = valid ? s[r] : NEG_INF;
            for (int o = 16; o > 0; o >>= 1) tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, o));
            const float mNew = fmaxf(m[r], tmax);
            const float corr = expf(m[r] - mNew);
            const float e = valid ? expf(s[r] - mNew) : 0.0f;
            float sum = e;
            for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            l[r] = l[r] * corr + sum;
            m[r] = mNew;
#pragma unroll
            for (int i = 0; i < DPL; i++) acc[r][i] *= corr;
            ps[(warp * RPW + r) * KT + lane] = e;
        }
        __syncwarp();
        // Values: lane owns dims lane + 32 i; the weights come from shared memory as broadcasts.
        for (int j = 0; j < KT && p0 + j <= lastPos; j++) {
            float v[DPL];
#pragma unroll
            for (int i = 0; i < DPL; i++) {
                const int d = lane + 32 * i;
                v[i] = d < HEAD_DIM ? vs[j * HEAD_DIM + d] : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                if (rowPos[r] < p0) continue;
                const float e = ps[(warp * RPW + r) * KT + j];
#pragma unroll
                for (int i = 0; i < DPL; i++) acc[r][i] += e * v[i];
            }
        }
        __syncwarp();
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        const int row = warp * RPW + r;
        if (row >= rows) continue;
        const int t = first + row / group, h = kvh * group + row % group;
#pragma unroll
        for (int i = 0; i < DPL; i++) {
            const int d = lane + 32 * i;
            if (d < HEAD_DIM) out[(size_t) t * heads * HEAD_DIM + (size_t) h * HEAD_DIM + d] = acc[r][i] / l[r];
        }
    }
}

// ---- decode: the query heads of one KV head in one block ---------------------------------------------------------
// attend reads each KV head's keys and values once per query head (group times with GQA). attend_gqa takes one KV
// head, one query token and one range of its context per block, with all `group` query heads that share the KV head
// (group <= GQA_MAX): each key row is read once by one warp (lane i: dims i, i+32, ...) and scored against every
// query head of the group, and each value element once by one thread for every head. The ranges are sized from the
// token's own length on the device (at least minChunk positions each), so a graph captured with `splits` ranges for
// the longest capacity spreads a short context over few blocks and the others return at once. Partial results and
// statistics have attend's layout, so attend_combine merges them.
#define GQA_MAX 8
#define GQA_TILE 64 // two scores per lane in the softmax step
#define GQA_DPL ((HEAD_DIM + 31) / 32)

extern "C" __global__ void __launch_bounds__(THREADS) attend_gqa(const float* __restrict__ q, const unsigned long long* __restrict__ kBase,
        const unsigned long long* __restrict__ vBase, const int* __restrict__ pos, float* __restrict__ out, float* __restrict__ partial,
        float* __restrict__ stats, int heads, int kvHeads, int layers, int layer, int minChunk, float scale) {
    PDL_TRIGGER();
    PDL_WAIT();
    const int kvh = blockIdx.x, t = blockIdx.y, s = blockIdx.z, splits = gridDim.z;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int group = heads / kvHeads;
    const int kvDim = kvHeads * HEAD_DIM;
    const int len = pos[t] + 1;
    const int chunk = max(minChunk, (len + splits - 1) / splits);
    const int start = s * chunk, end = min(len, start + chunk);

    __shared__ float qs[GQA_MAX][HEAD_DIM];
    __shared__ float sc[GQA_MAX][GQA_TILE];
    __shared__ float mS[GQA_MAX], lS[GQA_MAX], corrS[GQA_MAX];
    for (int i = tid; i < group * HEAD_DIM; i += THREADS) {
        qs[i / HEAD_DIM][i % HEAD_DIM] = q[(size_t) t * heads * HEAD_DIM + (size_t) (kvh * group) * HEAD_DIM + i];
    }
    if (tid < GQA_MAX) {
        mS[tid] = NEG_INF;
        lS[tid] = 0.0f;
    }
    __syncthreads();

    const float* kc = reinterpret_cast<const float*>(kBase[t]) + (size_t) layer * kvDim + (size_t) kvh * HEAD_DIM;
    const float* vc = reinterpret_cast<const float*>(vBase[t]) + (size_t) layer * kvDim + (size_t) kvh * HEAD_DIM;
    const size_t rowStride = (size_t) layers * kvDim;

    float acc[GQA_MAX][PER_THREAD];
#pragma unroll
    for (int g = 0; g < GQA_MAX; g++) {
#pragma unroll
        for (int i = 0; i < PER_THREAD; i++) acc[g][i] = 0.0f;
    }

    for (int p0 = start; p0 < end; p0 += GQA_TILE) {
        const int cnt = min(GQA_TILE, end - p0);
        for (int j = warp; j < cnt; j += WARPS) {
            const float* k = kc + (size_t) (p0 + j) * rowStride;
            float kr[GQA_DPL];
#pragma unroll
            for (int i = 0; i < GQA_DPL; i++) {
                const int d = lane + 32 * i;
                kr[i] = d < HEAD_DIM ? k[d] : 0.0f;
            }
#pragma unroll
            for (int g = 0; g < GQA_MAX; g++) {
                if (g < group) {
                    float dot = 0.0f;
#pragma unroll
                    for (int i = 0; i < GQA_DPL; i++) {
                        const int d = lane + 32 * i;
                        if (d < HEAD_DIM) dot += qs[g][d] * kr[i];
                    }
                    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                    if (lane == 0) sc[g][j] = dot * scale;
                }
            }
        }
        __syncthreads();
        // Online softmax of each head's tile: warp w takes heads w, w + WARPS, ...
        for (int g = warp; g < group; g += WARPS) {
            const float s0 = lane < cnt ? sc[g][lane] : NEG_INF;
            const float s1 = lane + 32 < cnt ? sc[g][lane + 32] : NEG_INF;
            float tm = fmaxf(s0, s1);
            for (int o = 16; o > 0; o >>= 1) tm = fmaxf(tm, __shfl_xor_sync(0xffffffffu, tm, o));
            const float mOld = mS[g], mNew = fmaxf(mOld, tm);
            const float e0 = lane < cnt ? expf(s0 - mNew) : 0.0f;
            const float e1 = lane + 32 < cnt ? expf(s1 - mNew) : 0.0f;
            if (lane < cnt) sc[g][lane] = e0;
            if (lane + 32 < cnt) sc[g][lane + 32] = e1;
            float sum = e0 + e1;
            for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            if (lane == 0) {
                const float corr = expf(mOld - mNew); // 0 on the first tile (mOld = -inf)
                corrS[g] = corr;
                lS[g] = lS[g] * corr + sum;
                mS[g] = mNew;
            }
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < PER_THREAD; i++) {
            const int d = tid + i * THREADS;
            if (d < HEAD_DIM) {
#pragma unroll
                for (int g = 0; g < GQA_MAX; g++) acc[g][i] *= g < group ? corrS[g] : 0.0f;
                for (int j = 0; j < cnt; j++) {
                    const float v = vc[(size_t) (p0 + j) * rowStride + d];
#pragma unroll
                    for (int g = 0; g < GQA_MAX; g++) {
                        if (g < group) acc[g][i] += sc[g][j] * v;
                    }
                }
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int g = 0; g < GQA_MAX; g++) {
        if (g >= group) break;
        const int h = kvh * group + g;
        const size_t slot = ((size_t) t * heads + h) * splits + s;
#pragma unroll
        for (int i = 0; i < PER_THREAD; i++) {
            const int d = tid + i * THREADS;
            if (d < HEAD_DIM) {
                if (splits == 1) {
                    out[(size_t) t * heads * HEAD_DIM + (size_t) h * HEAD_DIM + d] = acc[g][i] / lS[g];
                } else {
                    partial[slot * HEAD_DIM + d] = acc[g][i];
                }
            }
        }
        if (splits > 1 && tid == 0) {
            stats[2 * slot] = mS[g]; // -inf with l = 0 for a range past this token's context
            stats[2 * slot + 1] = lS[g];
        }
    }
}
