// variants: -DSTATE_BITS=1 -DREGIONS=2 -DPRUNED=0 | -DSTATE_BITS=2 -DREGIONS=2 -DPRUNED=1 | -DSTATE_BITS=2 -DREGIONS=3 -DPRUNED=0 | -DSTATE_BITS=2 -DREGIONS=3 -DPRUNED=1 | -DSTATE_BITS=2 -DREGIONS=3 -DPRUNED=1 -DACCUMULATE=1
// Fused GEMV over the binary (BiLLM / STBLLM) matrices of dev.bitcap.quant, read as quant/BinaryLayout.java stores
// them: per row a sign plane (bit i of word u: column 32u + i), a state plane (STATE_BITS per column, word(s) of unit
// u at byte 4·STATE_BITS·u), fp16 parameters per row and block of 128 columns (μ, α per region, then μ_s, α_1, α_2),
// and one salient-column bitmap shared by all rows. Launched by dev.bitcap.cuda.CudaMatMul; also the dequantization
// to fp16 that feeds cuBLAS for prefill.
// A weight's value is entry salient << 3 | state << 1 | sign of its row and block's 16-entry table, built with the
// same float additions as the CPU (μ + (±α), then + (±α_2) for salient weights; unused entries 0).

#ifndef STATE_BITS
#error "STATE_BITS must be defined"
#endif
#define PARAMS_PER_BLOCK (2 * REGIONS + 3)
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
#define UNITS_PER_BLOCK 4 // BinaryLayout.BLOCK / 32
#define THREADS 128
#define WARPS (THREADS / 32)
#define STATE_MASK ((1u << STATE_BITS) - 1)

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

// Table entry e (0..15) from the block's parameters p (BinaryLayout.valueCoefficients in closed form).
__device__ __forceinline__ float entry(const float p[PARAMS_PER_BLOCK], int e) {
    const bool salient = (e >> 3) != 0;
    const int state = (e >> 1) & 3;
    const bool positive = (e & 1) != 0;
    if (PRUNED && state == 0) return 0.0f;
    const int k = state - PRUNED;
    if (!salient) {
        if (k >= REGIONS) return 0.0f;
        return p[2 * k] + (positive ? p[2 * k + 1] : -p[2 * k + 1]);
    }
    if (k >= 2) return 0.0f;
    const float v = p[2 * REGIONS] + (positive ? p[2 * REGIONS + 1] : -p[2 * REGIONS + 1]);
    return v + (k == 1 ? p[2 * REGIONS + 2] : -p[2 * REGIONS + 2]);
}

__device__ __forceinline__ void load_params(const unsigned short* __restrict__ pr, float p[PARAMS_PER_BLOCK]) {
#pragma unroll
    for (int k = 0; k < PARAMS_PER_BLOCK; k++) p[k] = half_to_float(pr[k]);
}

// State of column j (compile-time constant after unrolling) of a unit whose state words are st[0..STATE_BITS).
__device__ __forceinline__ unsigned int state_of(const unsigned int st[STATE_BITS], int j) {
#if STATE_BITS == 1
    return (st[0] >> j) & 1u;
#else
    return (st[j >> 4] >> (2 * (j & 15))) & 3u;
#endif
}

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
        halve<V, H, OFFSET / 2>(v, lane);
    } else {
#pragma unroll
        for (int o = OFFSET; o > 0; o >>= 1) v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
    }
}

// As in gemv_packed.cu: V values summed over the warp, lane l ends with the total of index transpose_index<V>(l).
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

// y[t][r] = sum_c W[r][c] * x[t][c]. A block of THREADS threads owns R rows and NT activation rows; thread i takes
// units i, i + THREADS, ... of the R rows, loading each unit's sign and state words (coalesced across the warp), and
// builds its own 16-entry table per row and block in shared memory, stored entry-major with one column per lane so
// that the lookups of a warp never meet in a bank.
template <int R, int NT>
__device__ __forceinline__ void gemv_rows(const unsigned int* __restrict__ signs, const unsigned int* __restrict__ states,
        const unsigned short* __restrict__ params, const unsigned int* __restrict__ salient, const float* __restrict__ x,
        float* __restrict__ y, int rows, int cols, int n) {
    constexpr int V = R * NT;
    __shared__ float tab[WARPS][R][16][32];
    __shared__ float partial[WARPS][V];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int r0 = blockIdx.x * R;
    const int t0 = blockIdx.y * NT;
    const int nt = min(NT, n - t0);
    const int units = (cols + 31) / 32;
    const int blocks = (cols + 127) / 128;
    const bool vec = (cols & 31) == 0;
    float acc[V];
#pragma unroll
    for (int i = 0; i < V; i++) acc[i] = 0.0f;

    for (int u = tid; u < units; u += THREADS) {
        unsigned int sg[R], st[R][STATE_BITS];
        const unsigned int sal = salient[u];
        const int b = u / UNITS_PER_BLOCK;
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int r = min(r0 + i, rows - 1); // rows past the end repeat the last one and are not written
            sg[i] = signs[(size_t) r * units + u];
#if STATE_BITS == 1
            st[i][0] = states[(size_t) r * units + u];
#else
            const uint2 q = reinterpret_cast<const uint2*>(states)[(size_t) r * units + u];
            st[i][0] = q.x;
            st[i][1] = q.y;
#endif
        }
#pragma unroll
        for (int i = 0; i < R; i++) {
            const int r = min(r0 + i, rows - 1);
            float p[PARAMS_PER_BLOCK];
            load_params(params + ((size_t) r * blocks + b) * PARAMS_PER_BLOCK, p);
#pragma unroll
            for (int e = 0; e < 16; e++) tab[warp][i][e][lane] = entry(p, e);
        }
        const int col = u * 32;
#pragma unroll
        for (int jc = 0; jc < 32; jc += 4) {
            float v[R][4];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const int j = jc + k;
                const unsigned int s = ((sal >> j) & 1u) << 3;
#pragma unroll
                for (int i = 0; i < R; i++) {
                    const unsigned int e = s | state_of(st[i], j) << 1 | ((sg[i] >> j) & 1u);
                    v[i][k] = tab[warp][i][e][lane];
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
                    for (int k = 0; k < 4; k++) xv[k] = col + jc + k < cols ? xr[k] : 0.0f;
                }
#pragma unroll
                for (int i = 0; i < R; i++) {
#pragma unroll
                    for (int k = 0; k < 4; k++) acc[i * NT + t] = fmaf(v[i][k], xv[k], acc[i * NT + t]);
                }
            }
        }
    }
    halve<V, V, 16>(acc, lane);
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

// One activation row: 4 weight rows per block (the tables take 32 KiB of shared memory), grid (ceil(rows / 4), n).
extern "C" __global__ void __launch_bounds__(THREADS) gemv_binary_1(const unsigned int* __restrict__ signs,
        const unsigned int* __restrict__ states, const unsigned short* __restrict__ params, const unsigned int* __restrict__ salient,
        const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n) {
    gemv_rows<4, 1>(signs, states, params, salient, x, y, rows, cols, n);
}

// Up to four activation rows: 4 weight rows per block, grid (ceil(rows / 4), ceil(n / 4)).
extern "C" __global__ void __launch_bounds__(THREADS) gemv_binary_4(const unsigned int* __restrict__ signs,
        const unsigned int* __restrict__ states, const unsigned short* __restrict__ params, const unsigned int* __restrict__ salient,
        const float* __restrict__ x, float* __restrict__ y, int rows, int cols, int n) {
    gemv_rows<4, 4>(signs, states, params, salient, x, y, rows, cols, n);
}

// out[r][c] = fp16(W[r][c]): the weights for a cuBLAS fp16 product. One thread per (row, unit).
extern "C" __global__ void dequantize_binary_f16(const unsigned int* __restrict__ signs, const unsigned int* __restrict__ states,
        const unsigned short* __restrict__ params, const unsigned int* __restrict__ salient, unsigned short* __restrict__ out, int rows,
        int cols) {
    const int units = (cols + 31) / 32;
    const int blocks = (cols + 127) / 128;
    const long long total = (long long) rows * units;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        const int r = (int) (i / units), u = (int) (i % units);
        const unsigned int sg = signs[i], sal = salient[u];
        unsigned int st[STATE_BITS];
#if STATE_BITS == 1
        st[0] = states[i];
#else
        const uint2 q = reinterpret_cast<const uint2*>(states)[i];
        st[0] = q.x;
        st[1] = q.y;
#endif
        float p[PARAMS_PER_BLOCK];
        load_params(params + ((size_t) r * blocks + u / UNITS_PER_BLOCK) * PARAMS_PER_BLOCK, p);
#pragma unroll
        for (int j = 0; j < 32; j++) {
            const int col = u * 32 + j;
            if (col < cols) {
                const int e = (int) (((sal >> j) & 1u) << 3 | state_of(st, j) << 1 | ((sg >> j) & 1u));
                out[(size_t) r * cols + col] = float_to_half(entry(p, e));
            }
        }
    }
}
