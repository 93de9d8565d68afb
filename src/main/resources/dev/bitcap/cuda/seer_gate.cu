// variants: -DHEAD_DIM=128 -DBF16=0 | -DHEAD_DIM=128 -DBF16=1 | -DHEAD_DIM=64 -DBF16=0
// The SeerAttention gate on the GPU, launched by dev.bitcap.cuda.CudaSeerGate; the same maths as
// dev.bitcap.attention.SeerGate and BlockSelection (fp32 here, double there). Per block of `block` positions:
// the query heads' average of Q and the KV heads' max | min | average of K (Q and K before RoPE, fp16/bf16 rows of
// `stride` elements), each mapped without bias into gateDim channels and rotated by RoPE at the block's first
// position. Then per query head and query block i, scores against key blocks 0..i, and the chosen blocks: the first
// and the diagonal always, plus the best others up to round(density * (i + 1)) blocks in all, or every other block
// whose softmax probability over the row exceeds the threshold. Output: counts[h * nb + i] and the block indices at
// lists[h * nb (nb + 1) / 2 + i (i + 1) / 2 ...], best first (the layout flash_prefill.cu reads).

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
// halves (j, j + gateDim / 2). Angles in double, as the CPU gate, since positions reach 10^5.
__device__ void rotate_out(const float* x, float* out, const float* invFreq, int gateDim, int position, int adjacent) {
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
