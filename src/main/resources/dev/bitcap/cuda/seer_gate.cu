// variants: -DHEAD_DIM=128 -DBF16=0 | -DHEAD_DIM=128 -DBF16=1 | -DHEAD_DIM=64 -DBF16=0
// The SeerAttention gate on the GPU, launched by dev.bitcap.cuda.CudaSeerGate; the same maths as
// dev.bitcap.attention.SeerGate and BlockSelection (fp32 here, double there). Per block of `block` positions:
// the query heads' average of Q and the KV heads' max | min | average of K (Q and K before RoPE, fp16/bf16 rows of
// `stride` elements), each mapped without bias into gateDim channels and rotated by RoPE at the block's first
// position. Then per query head and query block i, scores against key blocks 0..i, and the chosen blocks: the first
// and the diagonal always, plus the best others up to round(density * (i + 1)) blocks in all, or every other block
// whose softmax probability over the row exceeds the threshold. Output: counts[h * nb + i] and the block indices at
// lists[h * nb (nb + 1) / 2 + i (i + 1) / 2 ...], best first (the layout flash_prefill.cu reads).
// Two ways to choose: gate_select (scores and a per-row bitonic sort in one kernel, the first), or gate_query_tiled /
// gate_key_tiled, gate_scores + gate_pick (a tiled score product into an nb x nb matrix per head, then one warp per row
// picking by a radix select; lists in no particular order; the default since it was measured faster), chosen by
// dev.bitcap.cuda.CudaSeerGate.Picker. After them: the SeerAttention-R decode gate (seer_decode_prompt,
// seer_decode_append, seer_decode_query, seer_decode_scores, seer_decode_select; fp32 inputs), launched by
// dev.bitcap.cuda.CudaSeerDecodeGate.

#ifndef HEAD_DIM
#error "HEAD_DIM must be defined"
#endif
#ifndef BF16
#define BF16 0
#endif
#define THREADS 128
#define SELECT_THREADS 256
#define ROWS 8        // query blocks per selection block
#define KEY_TILE 32   // key blocks scored per step
#define MAX_GATE 256
#define NEG_INF __int_as_float(0xff800000)

typedef unsigned short half_t;
typedef unsigned long long u64;

__device__ __forceinline__ float to_float(half_t x) {
    float f;
#if BF16
    f = __uint_as_float(((unsigned int) x) << 16);
#else
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
#endif
    return f;
}

// out = RoPE(position) of x (gateDim values in shared memory), as SeerGate.rotate: adjacent pairs (2j, 2j+1) or
// halves (j, j + gateDim / 2). Angles in double, as the CPU gate, since positions reach 10^5; the frequencies are
// float (prefill gate) or double (decode gate).
template <typename Freq>
__device__ void rotate_out(const float* x, float* out, const Freq* invFreq, int gateDim, int position, int adjacent) {
    const int half = gateDim / 2;
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        const double angle = (double) position * invFreq[j];
        const float c = (float) cos(angle), s = (float) sin(angle);
        const int a = adjacent ? 2 * j : j, b = adjacent ? a + 1 : a + half;
        out[a] = x[a] * c - x[b] * s;
        out[b] = x[a] * s + x[b] * c;
    }
}

// gq[h][b][:]: grid (nb, heads).
extern "C" __global__ void __launch_bounds__(THREADS) gate_query(const half_t* __restrict__ q, const float* __restrict__ wq,
        const float* __restrict__ invFreq, float* __restrict__ gq, int len, int heads, long long stride, int gateDim, int block, int adjacent) {
    __shared__ float pooled[HEAD_DIM];
    __shared__ float mapped[MAX_GATE];
    const int b = blockIdx.x, h = blockIdx.y, nb = gridDim.x;
    const int from = b * block, to = min(len, from + block);
    for (int c = threadIdx.x; c < HEAD_DIM; c += THREADS) {
        float sum = 0.0f;
        for (int t = from; t < to; t++) sum += to_float(q[(long long) t * stride + h * HEAD_DIM + c]);
        pooled[c] = sum / (to - from);
    }
    __syncthreads();
    for (int o = threadIdx.x; o < gateDim; o += THREADS) {
        float acc = 0.0f;
        const float* w = wq + (long long) h * HEAD_DIM * gateDim + o;
        for (int c = 0; c < HEAD_DIM; c++) acc += pooled[c] * w[(long long) c * gateDim];
        mapped[o] = acc;
    }
    __syncthreads();
    rotate_out(mapped, gq + ((long long) h * nb + b) * gateDim, invFreq, gateDim, from, adjacent);
}

// gk[g][b][:]: grid (nb, kvHeads).
extern "C" __global__ void __launch_bounds__(THREADS) gate_key(const half_t* __restrict__ k, const float* __restrict__ wk,
        const float* __restrict__ invFreq, float* __restrict__ gk, int len, int kvHeads, long long stride, int gateDim, int block, int adjacent) {
    __shared__ float pooled[3 * HEAD_DIM];
    __shared__ float mapped[MAX_GATE];
    const int b = blockIdx.x, g = blockIdx.y, nb = gridDim.x;
    const int from = b * block, to = min(len, from + block);
    for (int c = threadIdx.x; c < HEAD_DIM; c += THREADS) {
        float mx = NEG_INF, mn = -NEG_INF, sum = 0.0f;
        for (int t = from; t < to; t++) {
            const float x = to_float(k[(long long) t * stride + g * HEAD_DIM + c]);
            mx = fmaxf(mx, x);
            mn = fminf(mn, x);
            sum += x;
        }
        pooled[c] = mx;
        pooled[HEAD_DIM + c] = mn;
        pooled[2 * HEAD_DIM + c] = sum / (to - from);
    }
    __syncthreads();
    for (int o = threadIdx.x; o < gateDim; o += THREADS) {
        float acc = 0.0f;
        const float* w = wk + (long long) g * 3 * HEAD_DIM * gateDim + o;
        for (int c = 0; c < 3 * HEAD_DIM; c++) acc += pooled[c] * w[(long long) c * gateDim];
        mapped[o] = acc;
    }
    __syncthreads();
    rotate_out(mapped, gk + ((long long) g * nb + b) * gateDim, invFreq, gateDim, from, adjacent);
}

// gate_query and gate_key for MAP_BLOCKS blocks at once (grid (ceil(nb / MAP_BLOCKS), heads or kvHeads)): the same
// pooling and the same sums in the same order, but each weight read from L2 serves MAP_BLOCKS blocks instead of one
// (the per-block kernels read a head's whole map, 64 KiB for Q and 192 KiB for K at d = 128, once per block).
// Used with the radix picker. Slots past the last block are never pooled: their sums are computed and dropped.
#define MAP_BLOCKS 8
extern "C" __global__ void __launch_bounds__(THREADS) gate_query_tiled(const half_t* __restrict__ q, const float* __restrict__ wq,
        const float* __restrict__ invFreq, float* __restrict__ gq, int len, int heads, long long stride, int gateDim, int block, int adjacent,
        int nb) {
    __shared__ float pooled[MAP_BLOCKS][HEAD_DIM];
    __shared__ float mapped[MAP_BLOCKS][MAX_GATE];
    const int b0 = blockIdx.x * MAP_BLOCKS, h = blockIdx.y, count = min(MAP_BLOCKS, nb - b0);
    for (int x = 0; x < count; x++) {
        const int from = (b0 + x) * block, to = min(len, from + block);
        for (int c = threadIdx.x; c < HEAD_DIM; c += THREADS) {
            float sum = 0.0f;
            for (int t = from; t < to; t++) sum += to_float(q[(long long) t * stride + h * HEAD_DIM + c]);
            pooled[x][c] = sum / (to - from);
        }
    }
    __syncthreads();
    for (int o = threadIdx.x; o < gateDim; o += THREADS) {
        float acc[MAP_BLOCKS];
#pragma unroll
        for (int x = 0; x < MAP_BLOCKS; x++) acc[x] = 0.0f;
        const float* w = wq + (long long) h * HEAD_DIM * gateDim + o;
        for (int c = 0; c < HEAD_DIM; c++) {
            const float wc = w[(long long) c * gateDim];
#pragma unroll
            for (int x = 0; x < MAP_BLOCKS; x++) acc[x] += pooled[x][c] * wc;
        }
#pragma unroll
        for (int x = 0; x < MAP_BLOCKS; x++) mapped[x][o] = acc[x];
    }
    __syncthreads();
    for (int x = 0; x < count; x++) rotate_out(mapped[x], gq + ((long long) h * nb + b0 + x) * gateDim, invFreq, gateDim, (b0 + x) * block, adjacent);
}

extern "C" __global__ void __launch_bounds__(THREADS) gate_key_tiled(const half_t* __restrict__ k, const float* __restrict__ wk,
        const float* __restrict__ invFreq, float* __restrict__ gk, int len, int kvHeads, long long stride, int gateDim, int block, int adjacent,
        int nb) {
    __shared__ float pooled[MAP_BLOCKS][3 * HEAD_DIM];
    __shared__ float mapped[MAP_BLOCKS][MAX_GATE];
    const int b0 = blockIdx.x * MAP_BLOCKS, g = blockIdx.y, count = min(MAP_BLOCKS, nb - b0);
    for (int x = 0; x < count; x++) {
        const int from = (b0 + x) * block, to = min(len, from + block);
        for (int c = threadIdx.x; c < HEAD_DIM; c += THREADS) {
            float mx = NEG_INF, mn = -NEG_INF, sum = 0.0f;
            for (int t = from; t < to; t++) {
                const float v = to_float(k[(long long) t * stride + g * HEAD_DIM + c]);
                mx = fmaxf(mx, v);
                mn = fminf(mn, v);
                sum += v;
            }
            pooled[x][c] = mx;
            pooled[x][HEAD_DIM + c] = mn;
            pooled[x][2 * HEAD_DIM + c] = sum / (to - from);
        }
    }
    __syncthreads();
    for (int o = threadIdx.x; o < gateDim; o += THREADS) {
        float acc[MAP_BLOCKS];
#pragma unroll
        for (int x = 0; x < MAP_BLOCKS; x++) acc[x] = 0.0f;
        const float* w = wk + (long long) g * 3 * HEAD_DIM * gateDim + o;
        for (int c = 0; c < 3 * HEAD_DIM; c++) {
            const float wc = w[(long long) c * gateDim];
#pragma unroll
            for (int x = 0; x < MAP_BLOCKS; x++) acc[x] += pooled[x][c] * wc;
        }
#pragma unroll
        for (int x = 0; x < MAP_BLOCKS; x++) mapped[x][o] = acc[x];
    }
    __syncthreads();
    for (int x = 0; x < count; x++) rotate_out(mapped[x], gk + ((long long) g * nb + b0 + x) * gateDim, invFreq, gateDim, (b0 + x) * block, adjacent);
}

__device__ __forceinline__ unsigned int orderable(float f) {
    const unsigned int u = __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Block-wide sum or max of v over SELECT_THREADS threads (red: 8 floats of shared memory).
__device__ float reduce(float v, float* red, bool max) {
    for (int o = 16; o > 0; o >>= 1) {
        const float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = max ? fmaxf(v, w) : v + w;
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (int i = 1; i < SELECT_THREADS / 32; i++) v = max ? fmaxf(v, red[i]) : v + red[i];
    return v;
}

// Selection for ROWS query blocks of one query head: grid (ceil(nb / ROWS), heads). Dynamic shared memory:
// ROWS * gateDim + KEY_TILE * (gateDim + 1) + ROWS * nb floats, then the sort keys (pow2 >= nb, 8 bytes each).
extern "C" __global__ void __launch_bounds__(SELECT_THREADS) gate_select(const float* __restrict__ gq, const float* __restrict__ gk,
        int* __restrict__ counts, int* __restrict__ lists, int nb, int heads, int kvHeads, int gateDim, float scale, double density,
        float threshold, int byThreshold) {
    extern __shared__ u64 smem8[];
    const int tid = threadIdx.x;
    const int h = blockIdx.y, g = h / (heads / kvHeads);
    const int i0 = blockIdx.x * ROWS, rows = min(ROWS, nb - i0);
    int pow2 = 2;
    while (pow2 < nb) pow2 <<= 1;
    u64* keys = smem8;                                           // [pow2]
    float* qs = reinterpret_cast<float*>(smem8 + pow2);          // [ROWS][gateDim]
    float* ks = qs + ROWS * gateDim;                             // [KEY_TILE][gateDim + 1]
    float* sc = ks + KEY_TILE * (gateDim + 1);                   // [ROWS][nb]
    __shared__ float red[SELECT_THREADS / 32];
    __shared__ int kept;

    for (int i = tid; i < rows * gateDim; i += SELECT_THREADS) qs[i] = gq[((long long) h * nb + i0) * gateDim + i];
    const int nMax = i0 + rows; // key blocks the last row sees
    for (int j0 = 0; j0 < nMax; j0 += KEY_TILE) {
        __syncthreads();
        const int tile = min(KEY_TILE, nMax - j0);
        for (int i = tid; i < tile * gateDim; i += SELECT_THREADS) {
            const int j = i / gateDim, c = i % gateDim;
            ks[j * (gateDim + 1) + c] = gk[((long long) g * nb + j0 + j) * gateDim + c];
        }
        __syncthreads();
        const int r = tid / KEY_TILE, j = tid % KEY_TILE;
        if (r < rows && j < tile) {
            float acc = 0.0f;
            for (int c = 0; c < gateDim; c++) acc += qs[r * gateDim + c] * ks[j * (gateDim + 1) + c];
            sc[r * nb + j0 + j] = acc * scale;
        }
    }
    __syncthreads();

    const long long tri = (long long) nb * (nb + 1) / 2;
    for (int r = 0; r < rows; r++) {
        const int i = i0 + r, n = i + 1;
        const float* s = sc + r * nb;
        int count;
        if (n <= 2) {
            count = n;
        } else if (byThreshold) {
            float mx = NEG_INF;
            for (int j = tid; j < n; j += SELECT_THREADS) mx = fmaxf(mx, s[j]);
            mx = reduce(mx, red, true);
            float sum = 0.0f;
            for (int j = tid; j < n; j += SELECT_THREADS) sum += __expf(s[j] - mx);
            sum = reduce(sum, red, false);
            if (tid == 0) kept = 0;
            __syncthreads();
            int mine = 0;
            for (int j = 1 + tid; j < n - 1; j += SELECT_THREADS) mine += __expf(s[j] - mx) / sum > threshold;
            if (mine) atomicAdd(&kept, mine);
            __syncthreads();
            count = 2 + kept;
        } else {
            const long long k = (long long) floor(density * n + 0.5);
            count = (int) max((long long) min(2, n), min((long long) n, k));
        }
        int p = 2;
        while (p < n) p <<= 1;
        for (int j = tid; j < p; j += SELECT_THREADS) {
            u64 key = 0;
            if (j < n) key = ((u64) (j == 0 || j == n - 1 ? 0xffffffffu : orderable(s[j])) << 32) | (unsigned int) j;
            keys[j] = key;
        }
        __syncthreads();
        // Bitonic sort, descending: the first `count` keys are the chosen blocks (ties: the later block first).
        for (int size = 2; size <= p; size <<= 1) {
            for (int stride = size >> 1; stride > 0; stride >>= 1) {
                for (int a = tid; a < p; a += SELECT_THREADS) {
                    const int b = a ^ stride;
                    if (b > a) {
                        const u64 x = keys[a], y = keys[b];
                        const bool down = (a & size) == 0;
                        if (down ? x < y : x > y) {
                            keys[a] = y;
                            keys[b] = x;
                        }
                    }
                }
                __syncthreads();
            }
        }
        int* out = lists + (long long) h * tri + (long long) i * (i + 1) / 2;
        for (int j = tid; j < count; j += SELECT_THREADS) out[j] = (int) (keys[j] & 0xffffffffu);
        if (tid == 0) counts[(long long) h * nb + i] = count;
        __syncthreads();
    }
}

// Scores of one head's query blocks against its KV head's key blocks, scale * gq . gk, for key block <= query block:
// one 64 x 64 tile of the lower triangle per block (4 x 4 per thread), grid (tiles (tiles + 1) / 2, heads).
// scores[h][i][j], rows of nb floats; entries above the diagonal are not written.
#define SC_TILE 64
#define SC_PITCH 68 // floats per staged channel: 16-byte aligned rows that spread the transposing stores over the banks
#define SC_K 32
extern "C" __global__ void __launch_bounds__(256) gate_scores(const float* __restrict__ gq, const float* __restrict__ gk, float* __restrict__ scores,
        int nb, int heads, int kvHeads, int gateDim, float scale) {
    __shared__ float4 as4[SC_K * SC_PITCH / 4], bs4[SC_K * SC_PITCH / 4];
    float* as = reinterpret_cast<float*>(as4); // [SC_K][SC_PITCH]: channel-major so a thread reads 4 rows as one float4
    float* bs = reinterpret_cast<float*>(bs4);
    const int t = blockIdx.x, h = blockIdx.y, g = h / (heads / kvHeads);
    int ti = (int) ((sqrtf(8.0f * t + 1.0f) - 1.0f) * 0.5f);
    while ((ti + 1) * (ti + 2) / 2 <= t) ti++;
    while (ti * (ti + 1) / 2 > t) ti--;
    const int tj = t - ti * (ti + 1) / 2;
    const int i0 = ti * SC_TILE, j0 = tj * SC_TILE;
    const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
    float acc[4][4];
#pragma unroll
    for (int a = 0; a < 4; a++)
#pragma unroll
        for (int b = 0; b < 4; b++) acc[a][b] = 0.0f;
    for (int c0 = 0; c0 < gateDim; c0 += SC_K) {
        __syncthreads();
        for (int e = tid; e < SC_TILE * SC_K; e += 256) {
            const int r = e / SC_K, c = e % SC_K;
            const bool cin = c0 + c < gateDim;
            as[c * SC_PITCH + r] = i0 + r < nb && cin ? gq[((long long) h * nb + i0 + r) * gateDim + c0 + c] : 0.0f;
            bs[c * SC_PITCH + r] = j0 + r < nb && cin ? gk[((long long) g * nb + j0 + r) * gateDim + c0 + c] : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int c = 0; c < SC_K; c++) {
            const float4 a = as4[(c * SC_PITCH + ty * 4) / 4], b = bs4[(c * SC_PITCH + tx * 4) / 4];
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int x = 0; x < 4; x++)
#pragma unroll
                for (int y = 0; y < 4; y++) acc[x][y] += av[x] * bv[y];
        }
    }
#pragma unroll
    for (int x = 0; x < 4; x++) {
        const int i = i0 + ty * 4 + x;
        if (i >= nb) continue;
#pragma unroll
        for (int y = 0; y < 4; y++) {
            const int j = j0 + tx * 4 + y;
            if (j <= i) scores[((long long) h * nb + i) * nb + j] = acc[x][y] * scale;
        }
    }
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The chosen blocks of one row per warp (rows h * nb + i, grid ceil(heads * nb / 4) x 128 threads): blocks 0 and
// i always; under a density the k = budget - 2 best of blocks 1..i-1 by score (the k-th largest score found by a
// radix select over its 32-bit ordered form, 8 bits a pass; among equal scores the later blocks, as the bitonic
// order of gate_select), under a threshold every block of 1..i-1 whose softmax probability over the row exceeds it.
extern "C" __global__ void __launch_bounds__(128) gate_pick(const float* __restrict__ scores, int* __restrict__ counts, int* __restrict__ lists,
        int nb, int heads, double density, float threshold, int byThreshold) {
    __shared__ int hist[4][256];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const long long row = (long long) blockIdx.x * 4 + w;
    if (row >= (long long) heads * nb) return; // the whole warp leaves: a row is one warp's
    const int h = (int) (row / nb), i = (int) (row % nb), n = i + 1;
    const float* s = scores + row * nb;
    int* out = lists + (long long) h * ((long long) nb * (nb + 1) / 2) + (long long) i * (i + 1) / 2;
    const unsigned int lt = (1u << lane) - 1u;
    int count = 0;
    if (n <= 2) {
        if (lane < n) out[lane] = lane;
        count = n;
    } else if (byThreshold) {
        float mx = NEG_INF;
        for (int j = lane; j < n; j += 32) mx = fmaxf(mx, s[j]);
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int j = lane; j < n; j += 32) sum += __expf(s[j] - mx);
        sum = warp_sum(sum);
        for (int base = 0; base < n; base += 32) {
            const int j = base + lane;
            const bool take = j < n && (j == 0 || j == n - 1 || __expf(s[j] - mx) / sum > threshold);
            const unsigned int b = __ballot_sync(0xffffffffu, take);
            if (take) out[count + __popc(b & lt)] = j;
            count += __popc(b);
        }
    } else {
        const long long budget = max((long long) min(2, n), min((long long) n, (long long) floor(density * n + 0.5)));
        const int k = (int) budget - 2, middle = n - 2;
        if (lane == 0) {
            out[0] = 0;
            out[1] = n - 1;
        }
        count = 2;
        if (k >= middle) {
            for (int j = 1 + lane; j < n - 1; j += 32) out[2 + j - 1] = j;
            count += middle;
        } else if (k > 0) {
            unsigned int prefix = 0, mask = 0;
            int remaining = k; // how many still to pick among the keys that match prefix on the bits of mask
            for (int shift = 24; shift >= 0; shift -= 8) {
                for (int b = lane; b < 256; b += 32) hist[w][b] = 0;
                __syncwarp();
                for (int j = 1 + lane; j < n - 1; j += 32) {
                    const unsigned int u = orderable(s[j]);
                    if ((u & mask) == prefix) atomicAdd(&hist[w][(u >> shift) & 255], 1);
                }
                __syncwarp();
                // Lane L holds bins 255 - 8L down to 248 - 8L; find the digit where the count from the top reaches remaining.
                int local[8], total = 0;
#pragma unroll
                for (int x = 0; x < 8; x++) {
                    local[x] = hist[w][255 - 8 * lane - x];
                    total += local[x];
                }
                int incl = total;
                for (int o = 1; o < 32; o <<= 1) {
                    const int y = __shfl_up_sync(0xffffffffu, incl, o);
                    if (lane >= o) incl += y;
                }
                const int excl = incl - total;
                const bool mine = excl < remaining && remaining <= incl;
                int digit = 0, above = 0;
                if (mine) {
                    int cum = excl;
                    bool found = false;
#pragma unroll
                    for (int x = 0; x < 8; x++) {
                        if (!found && cum + local[x] >= remaining) {
                            found = true;
                            digit = 255 - 8 * lane - x;
                            above = cum;
                        }
                        cum += local[x];
                    }
                }
                const int src = __ffs(__ballot_sync(0xffffffffu, mine)) - 1;
                digit = __shfl_sync(0xffffffffu, digit, src);
                above = __shfl_sync(0xffffffffu, above, src);
                remaining -= above;
                prefix |= (unsigned int) digit << shift;
                mask |= 255u << shift;
                __syncwarp();
            }
            // prefix is now the k-th largest key: take every key above it, then `remaining` equal ones from the top.
            for (int base = 1; base < n - 1; base += 32) {
                const int j = base + lane;
                const bool take = j < n - 1 && orderable(s[j]) > prefix;
                const unsigned int b = __ballot_sync(0xffffffffu, take);
                if (take) out[count + __popc(b & lt)] = j;
                count += __popc(b);
            }
            int taken = 0;
            for (int top = n - 2; top >= 1 && taken < remaining; top -= 32) {
                const int j = top - lane;
                const bool eq = j >= 1 && orderable(s[j]) == prefix;
                const unsigned int b = __ballot_sync(0xffffffffu, eq);
                const bool take = eq && taken + __popc(b & lt) < remaining; // lower lanes hold later blocks
                const unsigned int tb = __ballot_sync(0xffffffffu, take);
                if (take) out[count + __popc(tb & lt)] = j;
                count += __popc(tb);
                taken += __popc(tb);
            }
        }
    }
    if (lane == 0) counts[row] = count;
}

// ---- SeerAttention-R decode gate (launched by dev.bitcap.cuda.CudaSeerDecodeGate; the maths of
// dev.bitcap.attention.SeerKeyCache, GateBlockScorer.decodeScores and BlockSelection.select). Inputs are the backend's
// fp32 activations before RoPE: K rows of kvHeads * HEAD_DIM floats, Q rows of heads * HEAD_DIM floats.
// Per sequence slot, layer and KV head (head = (slot * layers + layer) * kvHeads + g):
//   keys  + (head * maxBlocks + j) * gateDim: the gate key of completed block j (RoPE at j * block of wk . [max|min|avg]);
//   state + head * 3 * HEAD_DIM: max | min | sum of the pre-RoPE keys of the block being filled (a position p with
//   p % block == 0 starts it afresh, so the state needs no clearing).
// The RoPE frequencies are doubles here, and so are the angles.

// out = RoPE(position) of KV head g's map of pooled (3 * HEAD_DIM floats in shared memory); mapped: gateDim floats of
// shared memory. Called by every thread of the block (it synchronises).
__device__ void decode_key(const float* pooled, float* mapped, const float* __restrict__ wk, const double* __restrict__ invFreq, float* out,
        int g, int gateDim, int position, int adjacent) {
    __syncthreads();
    for (int o = threadIdx.x; o < gateDim; o += blockDim.x) {
        float acc = 0.0f;
        const float* w = wk + (long long) g * 3 * HEAD_DIM * gateDim + o;
        for (int c = 0; c < 3 * HEAD_DIM; c++) acc += pooled[c] * w[(long long) c * gateDim];
        mapped[o] = acc;
    }
    __syncthreads();
    rotate_out(mapped, out, invFreq, gateDim, position, adjacent);
}

// A sequence's first pass of n positions (0..n-1), one layer: grid (ceil(n / block), kvHeads), THREADS threads. Block b
// of n / block completed ones pools its rows and stores gate key b; the partial last block (n % block rows), if any,
// stores the running state instead. kPre: n rows of kvHeads * HEAD_DIM floats.
extern "C" __global__ void __launch_bounds__(THREADS) seer_decode_prompt(const float* __restrict__ kPre, const float* __restrict__ wk,
        const double* __restrict__ invFreq, float* __restrict__ keys, float* __restrict__ state, int n, int slot, int layers, int layer,
        int kvHeads, int gateDim, int block, int maxBlocks, int adjacent) {
    __shared__ float pooled[3 * HEAD_DIM];
    __shared__ float mapped[MAX_GATE];
    const int b = blockIdx.x, g = blockIdx.y;
    const int from = b * block, to = min(n, from + block);
    const long long head = ((long long) slot * layers + layer) * kvHeads + g;
    const long long kvDim = (long long) kvHeads * HEAD_DIM;
    const bool complete = to - from == block;
    for (int c = threadIdx.x; c < HEAD_DIM; c += THREADS) {
        float mx = NEG_INF, mn = -NEG_INF, sum = 0.0f;
        for (int t = from; t < to; t++) {
            const float v = kPre[(long long) t * kvDim + g * HEAD_DIM + c];
            mx = fmaxf(mx, v);
            mn = fminf(mn, v);
            sum += v;
        }
        if (complete) {
            pooled[c] = mx;
            pooled[HEAD_DIM + c] = mn;
            pooled[2 * HEAD_DIM + c] = sum / (float) block;
        } else {
            float* st = state + head * 3 * HEAD_DIM;
            st[c] = mx;
            st[HEAD_DIM + c] = mn;
            st[2 * HEAD_DIM + c] = sum;
        }
    }
    if (!complete) return; // the whole block: b is uniform
    decode_key(pooled, mapped, wk, invFreq, keys + (head * maxBlocks + b) * gateDim, g, gateDim, from, adjacent);
}

// One decode token per sequence, one layer: grid (sequences, kvHeads), THREADS threads. Row s of kPre is the token of
// slot slots[s] at position positions[s] = p. Folds it into the running state; when it completes its block
// (p % block == block - 1), stores gate key p / block from [max | min | sum / block].
extern "C" __global__ void __launch_bounds__(THREADS) seer_decode_append(const float* __restrict__ kPre, const float* __restrict__ wk,
        const double* __restrict__ invFreq, float* __restrict__ keys, float* __restrict__ state, const int* __restrict__ slots,
        const int* __restrict__ positions, int layers, int layer, int kvHeads, int gateDim, int block, int maxBlocks, int adjacent) {
    __shared__ float pooled[3 * HEAD_DIM];
    __shared__ float mapped[MAX_GATE];
    const int s = blockIdx.x, g = blockIdx.y;
    const int slot = slots[s], p = positions[s], r = p % block;
    const long long head = ((long long) slot * layers + layer) * kvHeads + g;
    float* st = state + head * 3 * HEAD_DIM;
    const float* k = kPre + ((long long) s * kvHeads + g) * HEAD_DIM;
    for (int c = threadIdx.x; c < HEAD_DIM; c += THREADS) {
        const float v = k[c];
        float mx = v, mn = v, sum = v;
        if (r != 0) {
            mx = fmaxf(st[c], v);
            mn = fminf(st[HEAD_DIM + c], v);
            sum = st[2 * HEAD_DIM + c] + v;
        }
        st[c] = mx;
        st[HEAD_DIM + c] = mn;
        st[2 * HEAD_DIM + c] = sum;
        pooled[c] = mx;
        pooled[HEAD_DIM + c] = mn;
        pooled[2 * HEAD_DIM + c] = sum / (float) block;
    }
    if (r != block - 1) return; // uniform over the block
    const int j = p / block;
    decode_key(pooled, mapped, wk, invFreq, keys + (head * maxBlocks + j) * gateDim, g, gateDim, j * block, adjacent);
}

// Exclusive prefix sum of v over the SELECT_THREADS threads of the block, in thread order; *total = the sum of all.
// warpSums: SELECT_THREADS / 32 ints of shared memory. Every thread must call it.
__device__ int block_scan(int v, int* warpSums, int* total) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    int incl = v;
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += y;
    }
    if (lane == 31) warpSums[w] = incl;
    __syncthreads();
    int before = 0, all = 0;
    for (int x = 0; x < SELECT_THREADS / 32; x++) {
        const int t = warpSums[x];
        if (x < w) before += t;
        all += t;
    }
    __syncthreads();
    *total = all;
    return before + incl - v;
}

#define MAX_GROUP 16

// The decode gate's three steps for one decode token per sequence, one layer. For s, g: p = positions[s], c = p / block
// completed blocks (keys j < c of slot slots[s]); n = c + 1 blocks.
//   seer_decode_query  (grid (sequences, kvHeads), SELECT_THREADS): per query head h of KV head g's group,
//                      qa = RoPE(p) of wq_h . q_h (q = row s of qPre) into qa + (s * heads + h) * gateDim;
//   seer_decode_scores (grid (ceil(largest c / SCORE_KEYS), kvHeads, sequences), SCORE_THREADS): z_j = scale * qa . key_j
//                      for the group's heads, a tile of SCORE_KEYS keys staged in shared memory per block (rows padded by
//                      one float: the per-thread dot products read distinct banks), into z + ((s * kvHeads + g) * group
//                      + i) * zStride + j (the keys of a KV head are read once, by many blocks, instead of by one);
//   seer_decode_select (grid (sequences, kvHeads), SELECT_THREADS): softmax over j < c per head, the group's average of
//                      those is block j's score; row lists + (s * kvHeads + g) * listStride gets [count, ascending ids].
// The selection: 0 and c always; n <= 2: every block; threshold: every j in 1..c-1 scoring above it; density: the
// budget - 2 best of 1..c-1 (the k-th largest score by a radix select on its 32 bits, 8 a pass; of the scores equal to
// it, the later blocks), or all of them when the budget covers them. At most listStride - 3 middle blocks are written
// (the host sizes rows so that this never cuts). zStride >= the largest c of the pass; the select kernel's dynamic
// shared memory is zStride floats. scoresOut (may be null, for checks): the scores of rows with c >= 2 at
// scoresOut + (s * kvHeads + g) * scoreStride + j, j < c. Each dot product sums over the gate channels in order.
#define SCORE_KEYS 64
#define SCORE_THREADS 128
extern "C" __global__ void __launch_bounds__(SELECT_THREADS) seer_decode_query(const float* __restrict__ qPre, const float* __restrict__ wq,
        const double* __restrict__ invFreq, const int* __restrict__ positions, float* __restrict__ qaOut, int heads, int kvHeads, int gateDim,
        int adjacent) {
    extern __shared__ float dyn[];
    const int s = blockIdx.x, g = blockIdx.y, tid = threadIdx.x, group = heads / kvHeads, p = positions[s];
    float* qin = dyn;                       // [group][HEAD_DIM]
    float* mapped = qin + group * HEAD_DIM; // [group][gateDim]
    const float* qs = qPre + ((long long) s * heads + (long long) g * group) * HEAD_DIM;
    for (int i = tid; i < group * HEAD_DIM; i += SELECT_THREADS) qin[i] = qs[i];
    __syncthreads();
    for (int idx = tid; idx < group * gateDim; idx += SELECT_THREADS) {
        const int i = idx / gateDim, o = idx - i * gateDim;
        const float* w = wq + (long long) (g * group + i) * HEAD_DIM * gateDim + o;
        float acc = 0.0f;
        for (int x = 0; x < HEAD_DIM; x++) acc += qin[i * HEAD_DIM + x] * w[(long long) x * gateDim];
        mapped[idx] = acc;
    }
    __syncthreads();
    float* qa = qaOut + ((long long) s * heads + (long long) g * group) * gateDim;
    const int half = gateDim / 2;
    for (int idx = tid; idx < group * half; idx += SELECT_THREADS) {
        const int i = idx / half, j = idx - i * half;
        const double angle = (double) p * invFreq[j];
        const float cs = (float) cos(angle), sn = (float) sin(angle);
        const int a = i * gateDim + (adjacent ? 2 * j : j), b = adjacent ? a + 1 : a + half;
        const float x0 = mapped[a], x1 = mapped[b];
        qa[a] = x0 * cs - x1 * sn;
        qa[b] = x0 * sn + x1 * cs;
    }
}

// Dynamic shared memory: group * gateDim + SCORE_KEYS * (gateDim + 1) floats.
extern "C" __global__ void __launch_bounds__(SCORE_THREADS) seer_decode_scores(const float* __restrict__ qaIn, const float* __restrict__ keys,
        const int* __restrict__ slots, const int* __restrict__ positions, float* __restrict__ z, int layers, int layer, int heads, int kvHeads,
        int gateDim, int block, int maxBlocks, float scale, int zStride) {
    extern __shared__ float dyn[];
    const int g = blockIdx.y, s = blockIdx.z, tid = threadIdx.x, group = heads / kvHeads;
    const int c = positions[s] / block, j0 = blockIdx.x * SCORE_KEYS;
    if (c <= 1 || j0 >= c) return; // rows of n <= 2 blocks take every block without scores
    const int count = min(SCORE_KEYS, c - j0), pitch = gateDim + 1;
    float* qa = dyn;                      // [group][gateDim]
    float* kt = qa + group * gateDim;     // [SCORE_KEYS][gateDim + 1]
    const float* qs = qaIn + ((long long) s * heads + (long long) g * group) * gateDim;
    for (int i = tid; i < group * gateDim; i += SCORE_THREADS) qa[i] = qs[i];
    const float* kb = keys + ((((long long) slots[s] * layers + layer) * kvHeads + g) * maxBlocks + j0) * gateDim;
    for (int i = tid; i < count * gateDim; i += SCORE_THREADS) {
        const int j = i / gateDim, o = i - j * gateDim;
        kt[j * pitch + o] = kb[i];
    }
    __syncthreads();
    float* zr = z + ((long long) s * kvHeads + g) * group * zStride;
    for (int idx = tid; idx < SCORE_KEYS * group; idx += SCORE_THREADS) {
        const int j = idx % SCORE_KEYS, i = idx / SCORE_KEYS;
        if (j >= count) continue;
        const float* kr = kt + j * pitch;
        const float* qi = qa + i * gateDim;
        float acc = 0.0f;
        for (int o = 0; o < gateDim; o++) acc += qi[o] * kr[o];
        zr[(long long) i * zStride + j0 + j] = acc * scale;
    }
}

extern "C" __global__ void __launch_bounds__(SELECT_THREADS) seer_decode_select(const float* __restrict__ zIn, const int* __restrict__ positions,
        int* __restrict__ lists, int listStride, int heads, int kvHeads, int block, double density, float threshold, int byThreshold, int zStride,
        float* __restrict__ scoresOut, int scoreStride) {
    extern __shared__ float dyn[];
    __shared__ float red[SELECT_THREADS / 32];
    __shared__ int warpSums[SELECT_THREADS / 32];
    __shared__ float headMax[MAX_GROUP], headSum[MAX_GROUP];
    __shared__ int hist[256];
    __shared__ int pick[3];
    const int s = blockIdx.x, g = blockIdx.y, tid = threadIdx.x, group = heads / kvHeads;
    const int p = positions[s], c = p / block;
    int* out = lists + ((long long) s * kvHeads + g) * listStride;
    if (c <= 1) { // n <= 2 blocks: all of them
        if (tid <= c) out[1 + tid] = tid;
        if (tid == 0) out[0] = c + 1;
        return;
    }
    float* z = dyn; // [zStride]: the averaged scores (the per-head rows are read from zIn, in L2)
    const float* zr = zIn + ((long long) s * kvHeads + g) * group * zStride;
    for (int i = 0; i < group; i++) {
        const float* zi = zr + (long long) i * zStride;
        float mx = NEG_INF;
        for (int j = tid; j < c; j += SELECT_THREADS) mx = fmaxf(mx, zi[j]);
        mx = reduce(mx, red, true);
        float sum = 0.0f;
        for (int j = tid; j < c; j += SELECT_THREADS) sum += expf(zi[j] - mx);
        sum = reduce(sum, red, false);
        if (tid == 0) {
            headMax[i] = mx;
            headSum[i] = sum;
        }
    }
    __syncthreads();
    for (int j = tid; j < c; j += SELECT_THREADS) {
        float a = 0.0f;
        for (int i = 0; i < group; i++) a += expf(zr[(long long) i * zStride + j] - headMax[i]) / headSum[i];
        z[j] = a / (float) group;
        if (scoresOut != nullptr) scoresOut[((long long) s * kvHeads + g) * scoreStride + j] = z[j];
    }
    __syncthreads();

    const float* sc = z;
    const int middle = c - 1, room = listStride - 3;
    // mode 0: none of the middle blocks, 1: all, 2: above the threshold, 3: the k best
    int mode;
    unsigned int prefix = 0;
    int remaining = 0, equal = 0;
    if (byThreshold) {
        mode = 2;
    } else {
        const long long n = c + 1;
        const long long budget = max(2LL, min(n, (long long) floor(density * (double) n + 0.5)));
        const int k = (int) budget - 2;
        mode = k >= middle ? 1 : k <= 0 ? 0 : 3;
        if (mode == 3) {
            unsigned int mask = 0;
            remaining = k; // how many still to pick among the scores that match prefix on the bits of mask
            for (int shift = 24; shift >= 0; shift -= 8) {
                hist[tid] = 0;
                __syncthreads();
                for (int j = 1 + tid; j < c; j += SELECT_THREADS) {
                    const unsigned int u = orderable(sc[j]);
                    if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & 255], 1);
                }
                __syncthreads();
                const int count = hist[255 - tid]; // thread t holds digit 255 - t: digits from the top
                int total;
                const int above = block_scan(count, warpSums, &total);
                if (above < remaining && remaining <= above + count) {
                    pick[0] = 255 - tid;
                    pick[1] = above;
                    pick[2] = count;
                }
                __syncthreads();
                prefix |= (unsigned int) pick[0] << shift;
                mask |= 255u << shift;
                remaining -= pick[1];
                equal = pick[2];
            }
            // prefix: the k-th largest score; take every score above it and the last `remaining` of the `equal` ones
        }
    }
    int written = 0;
    if (mode != 0) {
        int equalSeen = 0;
        for (int base = 1; base < c; base += SELECT_THREADS) {
            const int j = base + tid;
            const bool in = j < c;
            bool take;
            if (mode == 1) {
                take = in;
            } else if (mode == 2) {
                take = in && sc[j] > threshold;
            } else {
                const unsigned int u = in ? orderable(sc[j]) : 0u;
                const bool eq = in && u == prefix;
                int eqTotal;
                const int eqBefore = equalSeen + block_scan(eq ? 1 : 0, warpSums, &eqTotal);
                equalSeen += eqTotal;
                take = in && (u > prefix || (eq && eqBefore >= equal - remaining));
            }
            int takeTotal;
            const int at = written + block_scan(take ? 1 : 0, warpSums, &takeTotal);
            if (take && at < room) out[2 + at] = j;
            written += takeTotal;
        }
    }
    written = max(0, min(written, room));
    if (tid == 0) {
        out[0] = written + 2;
        out[1] = 0;
        out[2 + written] = c;
    }
}
