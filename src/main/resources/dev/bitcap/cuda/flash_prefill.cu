// variants: -DHEAD_DIM=128 -DBF16=0 | -DHEAD_DIM=128 -DBF16=1 | -DHEAD_DIM=64 -DBF16=0 | -DHEAD_DIM=64 -DBF16=1
// Causal prefill attention on tensor cores (mma.sync m16n8k16, fp16 or bf16 inputs, fp32 accumulation and online
// softmax), dense or block-sparse, launched by dev.bitcap.cuda.CudaSparseAttention. A block owns one query head and
// one query block of BLOCK = 64 positions (16 rows per warp); it walks a list of key blocks, each staged in shared
// memory through cp.async with two buffers so the next block loads while this one is multiplied. With no lists
// (counts == 0) the list is every causal block; otherwise counts[h * nqb + i] blocks of query head h and query block
// i are at lists[h * tri + i * (i + 1) / 2 ...] (tri = nqb (nqb + 1) / 2, room for every causal block), in any order.
// Token-level causality applies in the diagonal block; keys past len are masked. A row that visits nothing writes 0.
// GQA is native: query head h reads KV head h / (heads / kvHeads), and the query heads of one KV head are adjacent
// in the grid so their K/V tiles are served from L2. Q, K, V: element (t, h, d) at t * stride + h * HEAD_DIM + d;
// the output is fp32 at t * oStride + h * HEAD_DIM + d.

#ifndef HEAD_DIM
#error "HEAD_DIM must be defined"
#endif
#ifndef BF16
#define BF16 0
#endif
#define THREADS 128
#define BLOCK 64
#define STRIDE (HEAD_DIM + 8) // halves per staged row: rows start 16 bytes apart in the banks, so ldmatrix is conflict-free
#define CHUNKS (HEAD_DIM / 8)  // 16-byte pieces per row
#define NEG_INF __int_as_float(0xff800000)

typedef unsigned short half_t;
typedef unsigned int u32;

// Shared memory in bytes: the query tile and two buffers each of keys and values.
#define FLASH_SMEM (5 * BLOCK * STRIDE * 2)

__device__ __forceinline__ u32 shared_address(const void* p) {
    u32 a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// Copies 16 bytes global -> shared; with valid false the destination is zero-filled and nothing is read.
__device__ __forceinline__ void copy16(u32 dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void commit() {
    asm volatile("cp.async.commit_group;");
}

template <int N>
__device__ __forceinline__ void wait_groups() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N));
}

__device__ __forceinline__ void ldsm4(u32 addr, u32& r0, u32& r1, u32& r2, u32& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

__device__ __forceinline__ void ldsm4t(u32 addr, u32& r0, u32& r1, u32& r2, u32& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

// c += a (16x16, row) * b (16x8, col).
__device__ __forceinline__ void mma(float* c, const u32* a, u32 b0, u32 b1) {
#if BF16
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Two floats as a pair of halves, lo in the low 16 bits (the lower column of an mma fragment).
__device__ __forceinline__ u32 pack(float lo, float hi) {
    u32 r;
#if BF16
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#endif
    return r;
}

// Stages rows first..first+63 of one head (zeros past len) into dst [BLOCK][STRIDE].
__device__ __forceinline__ void stage(half_t* dst, const half_t* src, int first, int len, long long stride, int tid) {
    const u32 base = shared_address(dst);
#pragma unroll
    for (int i = tid; i < BLOCK * CHUNKS; i += THREADS) {
        const int r = i / CHUNKS, c = i % CHUNKS;
        const bool valid = first + r < len;
        const half_t* p = valid ? src + (long long) (first + r) * stride + c * 8 : src;
        copy16(base + (r * STRIDE + c * 8) * 2, p, valid);
    }
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) flash_prefill(const half_t* __restrict__ q, const half_t* __restrict__ k,
        const half_t* __restrict__ v, float* __restrict__ out, const int* __restrict__ counts, const int* __restrict__ lists, int len,
        int heads, int kvHeads, long long qStride, long long kvStride, long long oStride, float scaleLog2) {
    extern __shared__ uint4 smem[];
    half_t* qs = reinterpret_cast<half_t*>(smem); // [BLOCK][STRIDE]
    half_t* ks = qs + BLOCK * STRIDE;              // [2][BLOCK][STRIDE]
    half_t* vs = ks + 2 * BLOCK * STRIDE;          // [2][BLOCK][STRIDE]

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, tig = lane & 3;
    const int h = blockIdx.x, nqb = gridDim.y, qb = nqb - 1 - blockIdx.y; // longest rows first
    const int kvh = h / (heads / kvHeads);
    const half_t* qh = q + h * HEAD_DIM;
    const half_t* kh = k + kvh * HEAD_DIM;
    const half_t* vh = v + kvh * HEAD_DIM;

    int visits = qb + 1;
    const int* list = 0;
    if (counts) {
        visits = counts[(long long) h * nqb + qb];
        list = lists + (long long) h * ((long long) nqb * (nqb + 1) / 2) + (long long) qb * (qb + 1) / 2;
    }
    const int row0 = qb * BLOCK + warp * 16; // first query of this warp's rows
    if (visits == 0) {
        for (int i = lane; i < 16 * HEAD_DIM; i += 32) {
            const int r = row0 + i / HEAD_DIM;
            if (r < len) out[(long long) r * oStride + h * HEAD_DIM + i % HEAD_DIM] = 0.0f;
        }
        return;
    }

    stage(qs, qh, qb * BLOCK, len, qStride, tid);
    int kb = list ? list[0] : qb;
    stage(ks, kh, kb * BLOCK, len, kvStride, tid);
    stage(vs, vh, kb * BLOCK, len, kvStride, tid);
    commit();

    u32 qf[HEAD_DIM / 16][4];
    float o[HEAD_DIM / 8][4];
#pragma unroll
    for (int i = 0; i < HEAD_DIM / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m[2] = {NEG_INF, NEG_INF}, l[2] = {0.0f, 0.0f};

    for (int it = 0; it < visits; it++) {
        const int buf = it & 1;
        int next = -1;
        if (it + 1 < visits) {
            next = list ? list[it + 1] : qb - it - 1;
            stage(ks + (buf ^ 1) * BLOCK * STRIDE, kh, next * BLOCK, len, kvStride, tid);
            stage(vs + (buf ^ 1) * BLOCK * STRIDE, vh, next * BLOCK, len, kvStride, tid);
            commit();
            wait_groups<1>();
        } else {
            wait_groups<0>();
        }
        __syncthreads();
        if (it == 0) {
#pragma unroll
            for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
                const int r = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, c = kk * 16 + (lane >> 4) * 8;
                ldsm4(shared_address(qs + r * STRIDE + c), qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3]);
            }
        }
        const half_t* kt = ks + buf * BLOCK * STRIDE;
        const half_t* vt = vs + buf * BLOCK * STRIDE;

        // S = Q K^T for the warp's 16 rows and the block's 64 keys.
        float s[BLOCK / 8][4];
#pragma unroll
        for (int i = 0; i < BLOCK / 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
#pragma unroll
            for (int np = 0; np < BLOCK / 16; np++) {
                const int key = np * 16 + (lane & 7) + (lane >> 4) * 8, d = kk * 16 + ((lane >> 3) & 1) * 8;
                u32 b0, b1, b2, b3;
                ldsm4(shared_address(kt + key * STRIDE + d), b0, b1, b2, b3);
                mma(s[2 * np], qf[kk], b0, b1);
                mma(s[2 * np + 1], qf[kk], b2, b3);
            }
        }
        // Causal mask in the diagonal block, and keys past the end.
        if (kb == qb || (kb + 1) * BLOCK > len) {
#pragma unroll
            for (int nt = 0; nt < BLOCK / 8; nt++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int qi = row0 + g + (e >> 1) * 8, kj = kb * BLOCK + nt * 8 + tig * 2 + (e & 1);
                    if (kj > qi || kj >= len) s[nt][e] = NEG_INF;
                }
            }
        }
        // Online softmax (log2 domain); rows g and g + 8 of the warp, reduced over the 4 lanes of a quad.
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float mx = NEG_INF;
#pragma unroll
            for (int nt = 0; nt < BLOCK / 8; nt++) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mNew = fmaxf(m[r], mx * scaleLog2);
            const float base = mNew == NEG_INF ? 0.0f : mNew; // a row with nothing visible yet keeps 0 weights
            const float corr = exp2f(m[r] - base);
            m[r] = mNew;
            float sum = 0.0f;
#pragma unroll
            for (int nt = 0; nt < BLOCK / 8; nt++) {
                s[nt][2 * r] = exp2f(fmaf(s[nt][2 * r], scaleLog2, -base));
                s[nt][2 * r + 1] = exp2f(fmaf(s[nt][2 * r + 1], scaleLog2, -base));
                sum += s[nt][2 * r] + s[nt][2 * r + 1];
            }
            l[r] = l[r] * corr + sum;
#pragma unroll
            for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
                o[dt][2 * r] *= corr;
                o[dt][2 * r + 1] *= corr;
            }
        }
        // O += P V: the accumulator layout of S is the A-fragment layout of P, two key n-tiles per k-step.
#pragma unroll
        for (int kk = 0; kk < BLOCK / 16; kk++) {
            u32 pa[4];
            pa[0] = pack(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = pack(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dp = 0; dp < HEAD_DIM / 16; dp++) {
                const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, d = dp * 16 + (lane >> 4) * 8;
                u32 b0, b1, b2, b3;
                ldsm4t(shared_address(vt + key * STRIDE + d), b0, b1, b2, b3);
                mma(o[2 * dp], pa, b0, b1);
                mma(o[2 * dp + 1], pa, b2, b3);
            }
        }
        __syncthreads(); // this buffer is reloaded two visits on
        kb = next;
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        const int row = row0 + g + r * 8;
        if (row < len) {
            float* dst = out + (long long) row * oStride + h * HEAD_DIM + tig * 2;
#pragma unroll
            for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
                *reinterpret_cast<float2*>(dst + dt * 8) = make_float2(o[dt][2 * r] * inv, o[dt][2 * r + 1] * inv);
            }
        }
    }
}

// fp32 -> fp16/bf16 copy of n values (the backend's fp32 activations into the kernel's inputs), rows of `width`
// values at src + t * srcStride, packed at dst + t * width.
extern "C" __global__ void to_half_rows(const float* __restrict__ src, half_t* __restrict__ dst, int rows, int width, long long srcStride) {
    const long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) rows * width / 2) return;
    const long long e = 2 * i;
    const long long t = e / width, c = e % width;
    const float2 x = *reinterpret_cast<const float2*>(src + t * srcStride + c);
    reinterpret_cast<u32*>(dst)[i] = pack(x.x, x.y);
}

// n pseudo-random halves at dst, uniform in [-2, 2) (a hash of the index and seed): benchmark inputs made on the GPU.
extern "C" __global__ void fill_random(half_t* __restrict__ dst, long long n, int seed) {
    const long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (2 * i >= n) return;
    unsigned long long x = (unsigned long long) i * 0x9e3779b97f4a7c15ull + (unsigned long long) seed * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    const float a = (float) (x & 0xffffff) / 16777216.0f * 4.0f - 2.0f;
    const float b = (float) ((x >> 24) & 0xffffff) / 16777216.0f * 4.0f - 2.0f;
    reinterpret_cast<u32*>(dst)[i] = pack(a, b);
}
