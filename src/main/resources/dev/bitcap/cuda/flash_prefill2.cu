// variants: -DHEAD_DIM=128 -DBF16=1 -DWARP_ROWS=32 | -DHEAD_DIM=128 -DBF16=1 -DWARP_ROWS=16 | -DHEAD_DIM=128 -DBF16=0 -DWARP_ROWS=32 | -DHEAD_DIM=128 -DBF16=0 -DWARP_ROWS=16 | -DHEAD_DIM=64 -DBF16=0 -DWARP_ROWS=32 | -DHEAD_DIM=64 -DBF16=0 -DWARP_ROWS=16 | -DHEAD_DIM=64 -DBF16=1 -DWARP_ROWS=32 | -DHEAD_DIM=64 -DBF16=1 -DWARP_ROWS=16
// Opt-in variant of flash_prefill.cu (same arguments, same list layout, same results up to fp32 summation order),
// launched by dev.bitcap.cuda.CudaSparseAttention with Kernel.WIDE (WARP_ROWS=32) or Kernel.SWIZZLED (16). What
// differs from flash_prefill.cu:
// - A warp owns WARP_ROWS query rows. At 32 (two m16 tiles, 2 warps for the 64-row block) every K and V fragment
//   that ldmatrix brings from shared memory feeds four mma instead of two, which halves the shared-memory reads per
//   mma of the PV product and cuts those of QK^T by a third (Q is re-read from shared memory: its fragments would
//   not fit in registers beside a 32-row accumulator). At 16 (4 warps) Q stays in registers as in flash_prefill.cu.
// - Shared rows are unpadded, 16-byte chunks XOR-swizzled by (row & 7), so ldmatrix and the cp.async stores hit
//   eight distinct bank groups without the padding (48 KiB a block at d = 128: four blocks fit an SM).
// - One K and one V buffer, FA2's order: K of the next block is requested as soon as QK^T is done, V of the next as
//   soon as PV is done, so each load has the other product and the softmax to arrive in.
// Unchanged: S stays in registers, P is the A operand of the PV mma straight from the S accumulators, exp2 with the
// log2(e)-folded scale, causal mask in the diagonal block, keys past len masked, a row that visits nothing writes 0.

#ifndef HEAD_DIM
#error "HEAD_DIM must be defined"
#endif
#ifndef BF16
#define BF16 0
#endif
#ifndef WARP_ROWS
#define WARP_ROWS 32
#endif
#if WARP_ROWS != 16 && WARP_ROWS != 32
#error "WARP_ROWS must be 16 or 32"
#endif
#define BLOCK 64
#define MT (WARP_ROWS / 16)        // m16 tiles per warp
#define WARPS (BLOCK / WARP_ROWS)
#define THREADS (32 * WARPS)
#define MIN_BLOCKS (WARP_ROWS == 32 ? 4 : 2)
// Keys per softmax step: 32 where a warp's accumulator is 32 rows x 128 (128 registers), so that S fits beside it.
#define STEP (MT * HEAD_DIM >= 256 ? 32 : 64)
#define SUBS (BLOCK / STEP)
#define CHUNKS (HEAD_DIM / 8)      // 16-byte pieces per row
#define TILE (BLOCK * HEAD_DIM)    // halves per staged tile
#define NEG_INF __int_as_float(0xff800000)

typedef unsigned short half_t;
typedef unsigned int u32;

__device__ __forceinline__ u32 shared_address(const void* p) {
    u32 a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a swizzled tile.
__device__ __forceinline__ u32 swz(int row, int chunk) {
    return (u32) (row * HEAD_DIM + ((chunk ^ (row & 7)) << 3)) * 2u;
}

__device__ __forceinline__ void copy16(u32 dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void commit() {
    asm volatile("cp.async.commit_group;");
}

// Waits until at most N groups (the newest) are in flight.
template <int N>
__device__ __forceinline__ void wait_group() {
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

// Requests rows first..first+63 of one head (zeros past len) into the swizzled tile at dst. Not unrolled: unrolled,
// the compiler keeps every pass's addresses in registers across the whole kernel, which a 32-row warp cannot spare.
__device__ __forceinline__ void stage(u32 dst, const half_t* src, int first, int len, long long stride, int tid) {
#pragma unroll 1
    for (int i = tid; i < BLOCK * CHUNKS; i += THREADS) {
        const int r = i / CHUNKS, c = i % CHUNKS;
        const bool valid = first + r < len;
        const half_t* p = valid ? src + (long long) (first + r) * stride + c * 8 : src;
        copy16(dst + swz(r, c), p, valid);
    }
}

#define ROW_BYTES (HEAD_DIM * 2)

// The ldmatrix addresses: a lane reads row r (r & 7 == lane & 7, as every fragment starts on a multiple of 8 rows)
// at chunk 2 kk + b, which the swizzle puts at ((b ^ (lane & 7)) ^ 2 kk) * 16 bytes. So each lane keeps one offset
// per operand for kk = 0 and XORs kk << 5 into it, instead of the compiler keeping one register per (kk, tile) pair.
__device__ __forceinline__ u32 lane_offset(int row, int b, int lane) {
    return (u32) (row * ROW_BYTES + ((b ^ (lane & 7)) << 4));
}

extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS) flash_prefill_v2(const half_t* __restrict__ q, const half_t* __restrict__ k,
        const half_t* __restrict__ v, float* __restrict__ out, const int* __restrict__ counts, const int* __restrict__ lists, int len,
        int heads, int kvHeads, long long qStride, long long kvStride, long long oStride, float scaleLog2) {
    extern __shared__ uint4 smem[];
    const u32 qs = shared_address(smem); // three swizzled tiles: Q, K, V
    const u32 ks = qs + TILE * 2, vs = ks + TILE * 2;

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
    const int row0 = qb * BLOCK + warp * WARP_ROWS; // first query of this warp's rows
    if (visits == 0) {
        for (int i = tid; i < BLOCK * HEAD_DIM; i += THREADS) {
            const int r = qb * BLOCK + i / HEAD_DIM;
            if (r < len) out[(long long) r * oStride + h * HEAD_DIM + i % HEAD_DIM] = 0.0f;
        }
        return;
    }

    int kb = list ? list[0] : qb;
    stage(qs, qh, qb * BLOCK, len, qStride, tid);
    stage(ks, kh, kb * BLOCK, len, kvStride, tid);
    commit();
    stage(vs, vh, kb * BLOCK, len, kvStride, tid);
    commit();

    u32 qf[MT == 1 ? HEAD_DIM / 16 : 1][4]; // Q in registers only with one m-tile per warp
    float o[MT][HEAD_DIM / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int i = 0; i < HEAD_DIM / 8; i++) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
    float m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) m[mt][0] = m[mt][1] = NEG_INF, l[mt][0] = l[mt][1] = 0.0f;

    // A fragments of Q and V^T (rows lane & 15, chunk bit lane >> 4), B fragments of K (rows lane & 7 plus 8 for the
    // upper half-warp, chunk bit (lane >> 3) & 1).
    const u32 aOff = lane_offset(warp * WARP_ROWS + (lane & 15), lane >> 4, lane);
    const u32 vOff = lane_offset(lane & 15, lane >> 4, lane);
    const u32 kOff = lane_offset((lane & 7) + (lane >> 4) * 8, (lane >> 3) & 1, lane);

    for (int it = 0; it < visits; it++) {
        const int next = it + 1 < visits ? (list ? list[it + 1] : qb - it - 1) : -1;
        wait_group<1>(); // Q (first visit) and this block's K are in; V may still be on its way
        __syncthreads();
        if constexpr (MT == 1) {
            if (it == 0) {
#pragma unroll
                for (int kk = 0; kk < HEAD_DIM / 16; kk++) ldsm4(qs + (aOff ^ (kk << 5)), qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3]);
            }
        }
#pragma unroll
        for (int sub = 0; sub < SUBS; sub++) {
            // S = Q K^T for the warp's rows and keys sub * STEP .. + STEP - 1 of the block.
            float s[MT][STEP / 8][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int i = 0; i < STEP / 8; i++) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
                u32 a[MT][4];
                if constexpr (MT == 1) {
#pragma unroll
                    for (int x = 0; x < 4; x++) a[0][x] = qf[kk][x];
                } else {
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) ldsm4(qs + (aOff ^ (kk << 5)) + mt * 16 * ROW_BYTES, a[mt][0], a[mt][1], a[mt][2], a[mt][3]);
                }
#pragma unroll
                for (int np = 0; np < STEP / 16; np++) {
                    u32 b0, b1, b2, b3;
                    ldsm4(ks + (kOff ^ (kk << 5)) + (sub * STEP + np * 16) * ROW_BYTES, b0, b1, b2, b3);
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma(s[mt][2 * np], a[mt], b0, b1);
                        mma(s[mt][2 * np + 1], a[mt], b2, b3);
                    }
                }
            }
            if (sub == SUBS - 1) {
                __syncthreads(); // every warp is done with K: the next block's keys may come in
                if (next >= 0) stage(ks, kh, next * BLOCK, len, kvStride, tid);
                commit(); // possibly empty, so that there is one group per request
            }

            // Causal mask in the diagonal block, and keys past the end.
            if (kb == qb || (kb + 1) * BLOCK > len) {
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
#pragma unroll
                    for (int nt = 0; nt < STEP / 8; nt++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            const int qi = row0 + mt * 16 + g + (e >> 1) * 8, kj = kb * BLOCK + sub * STEP + nt * 8 + tig * 2 + (e & 1);
                            if (kj > qi || kj >= len) s[mt][nt][e] = NEG_INF;
                        }
            }
            // Online softmax (log2 domain); rows g and g + 8 of each m-tile, reduced over the 4 lanes of a quad. The
            // weights are packed to halves at once, in the A-fragment layout of the PV product (the accumulator
            // layout of S is that layout, two key n-tiles per k-step).
            u32 p[MT][STEP / 16][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    float mx = NEG_INF;
#pragma unroll
                    for (int nt = 0; nt < STEP / 8; nt++) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                    const float mNew = fmaxf(m[mt][r], mx * scaleLog2);
                    const float base = mNew == NEG_INF ? 0.0f : mNew; // a row with nothing visible yet keeps 0 weights
                    const float corr = exp2f(m[mt][r] - base);
                    m[mt][r] = mNew;
                    float sum = 0.0f;
#pragma unroll
                    for (int nt = 0; nt < STEP / 8; nt++) {
                        const float e0 = exp2f(fmaf(s[mt][nt][2 * r], scaleLog2, -base));
                        const float e1 = exp2f(fmaf(s[mt][nt][2 * r + 1], scaleLog2, -base));
                        p[mt][nt / 2][(nt & 1) * 2 + r] = pack(e0, e1);
                        sum += e0 + e1;
                    }
                    l[mt][r] = l[mt][r] * corr + sum;
#pragma unroll
                    for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
                        o[mt][dt][2 * r] *= corr;
                        o[mt][dt][2 * r + 1] *= corr;
                    }
                }
            }

            if (sub == 0) {
                // This block's V must be in. With one step the next K was requested above and may stay in flight.
                if (SUBS == 1) wait_group<1>();
                else wait_group<0>();
                __syncthreads();
            }
            // O += P V over the step's keys.
#pragma unroll
            for (int kk = 0; kk < STEP / 16; kk++) {
#pragma unroll
                for (int dp = 0; dp < HEAD_DIM / 16; dp++) {
                    u32 b0, b1, b2, b3;
                    ldsm4t(vs + (vOff ^ (dp << 5)) + (sub * STEP + kk * 16) * ROW_BYTES, b0, b1, b2, b3);
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma(o[mt][2 * dp], p[mt][kk], b0, b1);
                        mma(o[mt][2 * dp + 1], p[mt][kk], b2, b3);
                    }
                }
            }
        }
        __syncthreads(); // every warp is done with V: the next block's values may come in
        if (next >= 0) stage(vs, vh, next * BLOCK, len, kvStride, tid);
        commit();
        kb = next;
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float sum = l[mt][r];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
            const int row = row0 + mt * 16 + g + r * 8;
            if (row < len) {
                float* dst = out + (long long) row * oStride + h * HEAD_DIM + tig * 2;
#pragma unroll
                for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
                    *reinterpret_cast<float2*>(dst + dt * 8) = make_float2(o[mt][dt][2 * r] * inv, o[mt][dt][2 * r + 1] * inv);
                }
            }
        }
    }
}
