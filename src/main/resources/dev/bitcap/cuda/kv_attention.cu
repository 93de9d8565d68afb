// variants: -DHEAD_DIM=128 -DKV_BITS=4 -DKEY_CHANNEL=1 | -DHEAD_DIM=128 -DKV_BITS=4 -DKEY_CHANNEL=0 | -DHEAD_DIM=64 -DKV_BITS=2 -DKEY_CHANNEL=1 | -DHEAD_DIM=256 -DKV_BITS=2 -DKEY_CHANNEL=0 | -DHEAD_DIM=64 -DKV_BITS=16 -DKEY_CHANNEL=0 | -DHEAD_DIM=256 -DKV_BITS=16 -DKEY_CHANNEL=1
// Paged fp16 / int4 / int2 KV cache on the GPU, launched by dev.bitcap.cuda.CudaPagedAttention; the layout is
// dev.bitcap.cuda.CudaKvLayout (the Java class decodes pages with the same formulas, for the checks).
//
// Layout. A page holds PAGE_TOKENS positions of one sequence for every layer and KV head; one region per
// (layer, KV head): key codes | value codes | key parameters | value parameters. Codes are stored per tile of 16
// tokens x 16 channels in the order of the mma.m16n8k16 B fragments that read them, so that lane l of a warp
// loads one 32-bit word (int4), half a word (int2: two channel tiles share a word) or 16 bytes (fp16) and holds
// exactly its fragment, dequantized in registers:
//   key tile    (QK^T, k = channel, n = token): pair p of lane (gid = l/4, tig = l%4) is token gid + 8(p/2),
//               channels 2tig + 8(p%2) + {0, 1}
//   value tile  (PV, k = token, n = channel):   pair p is channel gid + 8(p/2), tokens 2tig + 8(p%2) + {0, 1}
// Element e of pair p sits at nibble p + 4e (int4), at bits 2(p + 4s) + 16e (int2, s = which tile of the two), or
// as half 2p + e (fp16), so one shift and mask gives a pair as the two halves of a word, and OR 0x6400 makes each
// half the fp16 number 1024 + code. Tiles are ordered [token tile][channel tile] (int2: [token tile][tile pair]).
// Parameters (fp16 scale, fp16 minimum; value = code * scale + min):
//   keys per channel: per (g-token block of the page, channel pair) {scale(c), scale(c+1)}, {min(c), min(c+1)}
//   keys per token and values: per (token, channel group of cg = min(g, D) channels) one word {scale, min}
// The newest positions (fewer than a block: g tokens, or 16 for fp16) are fp32 rows in the sequence's ring.
//
// Decode: grid (kvHeads, sequences, blocks of 4 warps); every warp is one split of the context: it walks its
// range 16 tokens at a time, scores all query heads that share the KV head (rows of the MMA, up to 16) against
// the tile on tensor cores, keeps a running max and sum per row, and accumulates P V on tensor cores; the split
// after the last packed one takes the ring. kv_combine merges the splits (log-sum-exp, base 2). kv_decode_folded_t
// puts the query heads on the MMA's 8 columns instead of its 16 rows, reading the same layout (see its section).
//
// Sparse decode (kv_decode*_sparse; SeerAttention-R's block-sparse decode): the same kernels walk a virtual position
// space instead of [0, packed): see SparseMap and decode_body. The ring split is unchanged.

#ifndef HEAD_DIM
#error "HEAD_DIM must be defined"
#endif
#ifndef KV_BITS
#error "KV_BITS must be defined"
#endif
#ifndef KEY_CHANNEL
#error "KEY_CHANNEL must be defined"
#endif

#define D HEAD_DIM
#define CT (D / 16)
#define PAGE_TOKENS 128
#define CODE_BYTES (PAGE_TOKENS * D * KV_BITS / 8)
#define NEG_INF __int_as_float(0xff800000)
#define QSTRIDE (D + 8) // halves per query row in shared memory: fragment loads hit distinct banks
#define FP16_MAX 65504.0f

#include "pdl.cuh"
// programmatic launch: kv_combine kv_decode_folded_t kv_decode_folded_t16 kv_decode_folded_t_sparse kv_decode_folded_t16_sparse

typedef unsigned int u32;
typedef unsigned short u16;

__device__ __forceinline__ u32 hsub2(u32 a, u32 b) {
    u32 d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

__device__ __forceinline__ u32 hfma2(u32 a, u32 b, u32 c) {
    u32 d;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

/** {lo, hi} as a half2 (lo in the low 16 bits). */
__device__ __forceinline__ u32 pack_half2(float lo, float hi) {
    u32 d;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
}

__device__ __forceinline__ u16 f2h(float f) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float h2f(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ void mma16816(float* c, const u32* a, u32 b0, u32 b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/** Codes of pair p of a tile as two halves 1024 + code, minus 1024 (exact), times scale plus minimum. */
__device__ __forceinline__ u32 dequant_pair(u32 word, int p, u32 scale2, u32 min2) {
#if KV_BITS == 4
    const u32 c = (word >> (4 * p)) & 0x000F000Fu;
#else
    const u32 c = (word >> (2 * p)) & 0x00030003u;
#endif
    return hfma2(hsub2(c | 0x64006400u, 0x64006400u), scale2, min2);
}

/** Bytes of the key parameters of one region. */
__device__ __forceinline__ int key_param_bytes(int group) {
#if KV_BITS == 16
    return 0;
#elif KEY_CHANNEL
    return PAGE_TOKENS / group * D * 4;
#else
    return PAGE_TOKENS * (D / min(group, D)) * 4;
#endif
}

#if KV_BITS != 16
/** Lane's code word of tile (tt, ct) from the codes at {@code codes}; int2 words shifted to this tile's pairs. */
__device__ __forceinline__ u32 code_word(const char* codes, int tt, int ct, int lane) {
#if KV_BITS == 4
    return reinterpret_cast<const u32*>(codes)[(tt * CT + ct) * 32 + lane];
#else
    return reinterpret_cast<const u32*>(codes)[(tt * (CT / 2) + ct / 2) * 32 + lane] >> (8 * (ct & 1));
#endif
}
#endif

/** The lane's B fragments (4 half2) of key tile (tt, ct) of a region. */
__device__ __forceinline__ void key_tile(const char* region, int tt, int ct, int lane, int group, u32* kb) {
#if KV_BITS == 16
    const uint4 w = reinterpret_cast<const uint4*>(region)[(tt * CT + ct) * 32 + lane];
    kb[0] = w.x; kb[1] = w.y; kb[2] = w.z; kb[3] = w.w;
#else
    const u32 w = code_word(region, tt, ct, lane);
#if KEY_CHANNEL
    const int tig = lane & 3;
    const uint2* kp = reinterpret_cast<const uint2*>(region + 2 * CODE_BYTES);
    const int jb = tt * 16 / group;
    const uint2 a = kp[jb * (D / 2) + 8 * ct + tig], b = kp[jb * (D / 2) + 8 * ct + 4 + tig];
    kb[0] = dequant_pair(w, 0, a.x, a.y);
    kb[1] = dequant_pair(w, 1, b.x, b.y);
    kb[2] = dequant_pair(w, 2, a.x, a.y);
    kb[3] = dequant_pair(w, 3, b.x, b.y);
#else
    const int gid = lane >> 2;
    const int cg = min(group, D), groups = D / cg, j = ct * 16 / cg;
    const u32* kp = reinterpret_cast<const u32*>(region + 2 * CODE_BYTES);
    const u32 w0 = kp[(tt * 16 + gid) * groups + j], w1 = kp[(tt * 16 + gid + 8) * groups + j];
    const u32 s0 = __byte_perm(w0, w0, 0x1010), m0 = __byte_perm(w0, w0, 0x3232);
    const u32 s1 = __byte_perm(w1, w1, 0x1010), m1 = __byte_perm(w1, w1, 0x3232);
    kb[0] = dequant_pair(w, 0, s0, m0);
    kb[1] = dequant_pair(w, 1, s0, m0);
    kb[2] = dequant_pair(w, 2, s1, m1);
    kb[3] = dequant_pair(w, 3, s1, m1);
#endif
#endif
}

/** The lane's B fragments of value tile (tt, ct) of a region. */
__device__ __forceinline__ void value_tile(const char* region, int tt, int ct, int lane, int group, u32* vb) {
#if KV_BITS == 16
    const uint4 w = reinterpret_cast<const uint4*>(region + CODE_BYTES)[(tt * CT + ct) * 32 + lane];
    vb[0] = w.x; vb[1] = w.y; vb[2] = w.z; vb[3] = w.w;
#else
    const u32 w = code_word(region + CODE_BYTES, tt, ct, lane);
    const int tig = lane & 3;
    const int cg = min(group, D), groups = D / cg, j = ct * 16 / cg;
    const u32* vp = reinterpret_cast<const u32*>(region + 2 * CODE_BYTES + key_param_bytes(group));
    const int t0 = tt * 16 + 2 * tig;
    const u32 w0 = vp[t0 * groups + j], w1 = vp[(t0 + 1) * groups + j], w2 = vp[(t0 + 8) * groups + j], w3 = vp[(t0 + 9) * groups + j];
    const u32 sa = __byte_perm(w0, w1, 0x5410), ma = __byte_perm(w0, w1, 0x7632);
    const u32 sb = __byte_perm(w2, w3, 0x5410), mb = __byte_perm(w2, w3, 0x7632);
    vb[0] = dequant_pair(w, 0, sa, ma);
    vb[1] = dequant_pair(w, 1, sb, mb);
    vb[2] = dequant_pair(w, 2, sa, ma);
    vb[3] = dequant_pair(w, 3, sb, mb);
#endif
}

/** Key fragments of ring tile (tt, ct): fp32 rows [slot][kvDim] at {@code ring}, slots at or past n read as 0. */
__device__ __forceinline__ void ring_key_tile(const float* ring, int kvDim, int n, int tt, int ct, int lane, u32* kb) {
    const int gid = lane >> 2, tig = lane & 3;
#pragma unroll
    for (int p = 0; p < 4; p++) {
        const int t = tt * 16 + gid + 8 * (p >> 1), c = ct * 16 + 2 * tig + 8 * (p & 1);
        float2 v = make_float2(0.0f, 0.0f);
        if (t < n) v = *reinterpret_cast<const float2*>(ring + (size_t) t * kvDim + c);
        kb[p] = pack_half2(v.x, v.y);
    }
}

__device__ __forceinline__ void ring_value_tile(const float* ring, int kvDim, int n, int tt, int ct, int lane, u32* vb) {
    const int gid = lane >> 2, tig = lane & 3;
#pragma unroll
    for (int p = 0; p < 4; p++) {
        const int c = ct * 16 + gid + 8 * (p >> 1), t = tt * 16 + 2 * tig + 8 * (p & 1);
        const float a = t < n ? ring[(size_t) t * kvDim + c] : 0.0f;
        const float b = t + 1 < n ? ring[(size_t) (t + 1) * kvDim + c] : 0.0f;
        vb[p] = pack_half2(a, b);
    }
}

/** Per-sequence words of kv_decode's info array. */
#define INFO_RING_K 0
#define INFO_RING_V 1
#define INFO_PACKED 2
#define INFO_RING_LEN 3
#define INFO_WORDS 4

// Block-sparse decode. Row (seq, kvHead) of the lists is [count, b_1 .. b_count], block ids ascending, blocks of blk
// positions (blk a multiple of 32). The pair attends every position of each listed block j with (j + 1) blk <= fullEnd
// = (packed / blk) blk, plus every position of [fullEnd, length) (packed tail and ring) whether listed or not.
// Virtual positions: nFull = listed ids below packed / blk; virtual t in [0, nFull blk) is position t % blk of listed
// block t / blk, virtual t in [nFull blk, nFull blk + packed - fullEnd) is fullEnd + (t - nFull blk). Splits walk the
// virtual range in 16- or 32-token steps; as blk, fullEnd and packed are multiples of 32 (fp16: packed of 16), a step
// never straddles a block or a page, so one real position per step places all its tiles
// (dev.bitcap.cuda.SparseDecodeMask is the same rule on the host, unit-tested).
struct SparseMap {
    const int* ids; // the row's block ids (after its count)
    int nFull, blk, fullEnd;

    /** The real position of virtual position t. */
    __device__ __forceinline__ int real(int t) const {
        const int b = t / blk;
        return b < nFull ? ids[b] * blk + (t - b * blk) : fullEnd + (t - nFull * blk);
    }
};

// One warp = one split: tokens [start, end) of the pages (or, with ring set, the n ring rows), all query rows.
// SPARSE: [start, end) are virtual positions (SparseMap), each step placed by its real position.
template <bool RING, bool SPARSE>
__device__ __forceinline__ void attend_range(const u16* qs, const int* table, const char* pool, long long pageBytes, long long regionOffset,
        const float* ringK, const float* ringV, int kvDim, int start, int end, int group, float scaleLog2, int lane, float* o, float* m,
        float* l, SparseMap sp) {
    const int gid = lane >> 2, tig = lane & 3;
    for (int t0 = start; t0 < end; t0 += 16) {
        const char* region = nullptr;
        int tt = 0;
        if (!RING) {
            const int r = SPARSE ? sp.real(t0) : t0;
            region = pool + (size_t) table[r / PAGE_TOKENS] * pageBytes + regionOffset;
            tt = (r % PAGE_TOKENS) / 16;
        } else {
            tt = t0 / 16;
        }
        float s[2][4];
#pragma unroll
        for (int i = 0; i < 4; i++) s[0][i] = s[1][i] = 0.0f;
#pragma unroll
        for (int ct = 0; ct < CT; ct++) {
            u32 a[4], kb[4];
            a[0] = *reinterpret_cast<const u32*>(qs + gid * QSTRIDE + ct * 16 + 2 * tig);
            a[1] = *reinterpret_cast<const u32*>(qs + (gid + 8) * QSTRIDE + ct * 16 + 2 * tig);
            a[2] = *reinterpret_cast<const u32*>(qs + gid * QSTRIDE + ct * 16 + 8 + 2 * tig);
            a[3] = *reinterpret_cast<const u32*>(qs + (gid + 8) * QSTRIDE + ct * 16 + 8 + 2 * tig);
            if (RING) ring_key_tile(ringK, kvDim, end, tt, ct, lane, kb);
            else key_tile(region, tt, ct, lane, group, kb);
            mma16816(s[0], a, kb[0], kb[1]);
            mma16816(s[1], a, kb[2], kb[3]);
        }
        float mx[2] = {NEG_INF, NEG_INF};
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                float v = s[nt][i] * scaleLog2;
                if (RING && t0 + nt * 8 + 2 * tig + (i & 1) >= end) v = NEG_INF;
                s[nt][i] = v;
                mx[i >> 1] = fmaxf(mx[i >> 1], v);
            }
        }
        float corr[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float mNew = fmaxf(m[r], mx[r]); // finite: every 16-token step has a valid token
            corr[r] = exp2f(m[r] - mNew);
            m[r] = mNew;
            l[r] *= corr[r];
        }
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const float e = exp2f(s[nt][i] - m[i >> 1]);
                s[nt][i] = e;
                l[i >> 1] += e;
            }
        }
        // The running max rarely rises after the first steps: skip the rescale (a multiply by exactly 1) when no
        // row of the warp moved, so the result is bit for bit the same.
        if (__any_sync(0xffffffffu, corr[0] != 1.0f || corr[1] != 1.0f)) {
#pragma unroll
            for (int i = 0; i < CT * 8; i++) o[i] *= corr[(i >> 1) & 1];
        }
        u32 pa[4];
        pa[0] = pack_half2(s[0][0], s[0][1]);
        pa[1] = pack_half2(s[0][2], s[0][3]);
        pa[2] = pack_half2(s[1][0], s[1][1]);
        pa[3] = pack_half2(s[1][2], s[1][3]);
#pragma unroll
        for (int ct = 0; ct < CT; ct++) {
            u32 vb[4];
            if (RING) ring_value_tile(ringV, kvDim, end, tt, ct, lane, vb);
            else value_tile(region, tt, ct, lane, group, vb);
            mma16816(o + ct * 8, pa, vb[0], vb[1]);
            mma16816(o + ct * 8 + 4, pa, vb[2], vb[3]);
        }
    }
}


#if KV_BITS != 16
// ---- folded decode (the default for int formats since it passed every check row on the H200, 2026-12-02) ---------
// Same split structure and layout, but the group parameters leave the inner loop: codes go to the tensor cores as
// exact fp16 integers (one shift-and-mask and one exact subtraction per pair), and
//   keys per channel: the scale is folded into the query once per g-token block (A' = q * scale, per channel) and
//                     the minimum becomes a per-row bias sum_c q_c * min_c added to the scores;
//   keys per token:   each channel group's partial product is scaled per token, plus min * sum of q over the group;
//   values:           the scale is folded into the softmax weights per token and channel group (P' = P * scale),
//                     the minimum into a running per-row, per-group sum of P * min added to the output at the end.
// All code words of a 16-token step are loaded before any is used, so a warp keeps a whole step in flight.
#define MAXG (D / 32)
#if KV_BITS == 4
#define WORDS CT
#else
#define WORDS (CT / 2)
#endif

// ---- the folded kernels' copy ring ----
// Each warp streams its steps through a ring of KV_STAGES slots in dynamic shared memory, KV_STAGES - 1 steps ahead
// of the step it sums (cp.async, no registers held while in flight): the key and value codes of the step's tiles, the
// value parameters of its tokens, and the key parameters (per token: the step's tokens; per channel: its g-block's).
// Loading them at the top of each step had left every warp with one step in flight and two dependent global
// latencies per step (codes, then the value parameters after the softmax): ~15-29 % of copy on the H200.
// CudaPagedAttention.copyRingBytes computes the same size; the kernel traps if it was given less.
#ifndef KV_STAGES
#define KV_STAGES 3
#endif
#define RING_WARPS 4

template <int TILES>
struct RingSlot { // offsets in 32-bit words
    static constexpr int CODE_WORDS = TILES * WORDS * 32;
    static constexpr int PARAM_WORDS = TILES * 16 * MAXG; // per token and channel group (values; keys per token)
    static constexpr int KEY_CODES = 0;
    static constexpr int VALUE_CODES = CODE_WORDS;
    static constexpr int VALUE_PARAMS = 2 * CODE_WORDS;
    static constexpr int KEY_PARAMS = VALUE_PARAMS + PARAM_WORDS;
    static constexpr int WORDS_ = KEY_PARAMS + (KEY_CHANNEL ? D : PARAM_WORDS); // per channel: D / 2 {scale, min} pairs
};

__device__ __forceinline__ void cp16(u32* dst, const void* src) {
    const unsigned d = (unsigned) __cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(d), "l"(src) : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;" ::: "memory");
}

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory");
}

/** Copies `words` 32-bit words (a multiple of 4, 16-byte aligned at both ends) with the warp's lanes. */
__device__ __forceinline__ void copy_words(u32* dst, const char* src, int words, int lane) {
    for (int c = lane; c < words / 4; c += 32) cp16(dst + 4 * c, src + 16 * c);
}

/** Starts the copies of the step at virtual position t into `slot` (every lane of the warp calls it). */
template <int TILES, bool SPARSE>
__device__ __forceinline__ void issue_step(u32* slot, int t, const int* table, const char* pool, long long pageBytes, long long regionOffset,
        int group, int groups, int kParamBytes, int lane, SparseMap sp) {
    const int r = SPARSE ? sp.real(t) : t;
    const char* region = pool + (size_t) table[r / PAGE_TOKENS] * pageBytes + regionOffset;
    const int tt0 = (r % PAGE_TOKENS) / 16; // the tiles of a step lie in one page (32-aligned steps, 128-token pages)
    constexpr int CW = RingSlot<TILES>::CODE_WORDS;
    copy_words(slot + RingSlot<TILES>::KEY_CODES, region + (size_t) tt0 * WORDS * 128, CW, lane);
    copy_words(slot + RingSlot<TILES>::VALUE_CODES, region + CODE_BYTES + (size_t) tt0 * WORDS * 128, CW, lane);
    const char* params = region + 2 * CODE_BYTES;
    copy_words(slot + RingSlot<TILES>::VALUE_PARAMS, params + kParamBytes + (size_t) tt0 * 16 * groups * 4, TILES * 16 * groups, lane);
#if KEY_CHANNEL
    copy_words(slot + RingSlot<TILES>::KEY_PARAMS, params + (size_t) (tt0 * 16 / group) * (D / 2) * 8, D, lane);
#else
    copy_words(slot + RingSlot<TILES>::KEY_PARAMS, params + (size_t) tt0 * 16 * groups * 4, TILES * 16 * groups, lane);
#endif
}

__device__ __forceinline__ u32 exact_codes(u32 word, int p) {
#if KV_BITS == 4
    const u32 c = (word >> (4 * p)) & 0x000F000Fu;
#else
    const u32 c = (word >> (2 * p)) & 0x00030003u;
#endif
    return hsub2(c | 0x64006400u, 0x64006400u);
}

__device__ __forceinline__ u32 hmul2(u32 a, u32 b) {
    u32 d;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

__device__ __forceinline__ u32 word_of(const u32* words, int ct) {
#if KV_BITS == 4
    return words[ct];
#else
    return words[ct / 2] >> (8 * (ct & 1));
#endif
}

/** q pair (row, channels c, c+1) from the shared query rows, as half2 bits. */
__device__ __forceinline__ u32 q_pair(const u16* qs, int row, int c) {
    return *reinterpret_cast<const u32*>(qs + row * QSTRIDE + c);
}

__device__ __forceinline__ float lo_f(u32 h2) { return h2f((u16) (h2 & 0xFFFF)); }
__device__ __forceinline__ float hi_f(u32 h2) { return h2f((u16) (h2 >> 16)); }

// TILES 16-token tiles per step (1 or 2): with 2, one max, one rescale and one set of shuffles serve 32 tokens;
// the caller guarantees 32-aligned ranges of a multiple of 32 tokens (chunk a multiple of 32, packed a multiple of g).
// SPARSE: [start, end) are virtual positions (SparseMap), each step placed by its real position r; keys per channel
// refold the query whenever r does not follow the previous step's (a virtual block boundary), as at a new g-block.
template <int TILES, bool SPARSE>
__device__ void attend_folded(const u16* qs, u16* qf, u32* ring, const int* table, const char* pool, long long pageBytes,
        long long regionOffset, int start, int end, int group, float scaleLog2, int lane, float* o, float* m, float* l, SparseMap sp) {
    const int gid = lane >> 2, tig = lane & 3;
    const int cg = min(group, D), groups = D / cg, ctPerGroup = cg / 16;
    const int kParamBytes = key_param_bytes(group);
    constexpr int STEP = 16 * TILES;
    // Steps land in the warp's ring KV_STAGES - 1 steps ahead of the one being summed (see RingSlot).
    const int steps = (end - start + STEP - 1) / STEP;
#pragma unroll
    for (int k = 0; k < KV_STAGES - 1; k++) {
        if (k < steps) issue_step<TILES, SPARSE>(ring + k * RingSlot<TILES>::WORDS_, start + k * STEP, table, pool, pageBytes,
                regionOffset, group, groups, kParamBytes, lane, sp);
        cp_async_commit();
    }
    float vbias[MAXG][2];
#pragma unroll
    for (int j = 0; j < MAXG; j++) vbias[j][0] = vbias[j][1] = 0.0f;
#if !KEY_CHANNEL
    float qsum[MAXG][2]; // sum of q over each channel group, rows gid and gid + 8
#pragma unroll
    for (int j = 0; j < MAXG; j++) {
        float a = 0.0f, b = 0.0f;
        if (j < groups) {
            for (int ct = j * ctPerGroup; ct < (j + 1) * ctPerGroup; ct++) {
                const u32 p0 = q_pair(qs, gid, ct * 16 + 2 * tig), p1 = q_pair(qs, gid, ct * 16 + 8 + 2 * tig);
                const u32 r0 = q_pair(qs, gid + 8, ct * 16 + 2 * tig), r1 = q_pair(qs, gid + 8, ct * 16 + 8 + 2 * tig);
                a += lo_f(p0) + hi_f(p0) + lo_f(p1) + hi_f(p1);
                b += lo_f(r0) + hi_f(r0) + lo_f(r1) + hi_f(r1);
            }
        }
        a += __shfl_xor_sync(0xffffffffu, a, 1);
        a += __shfl_xor_sync(0xffffffffu, a, 2);
        b += __shfl_xor_sync(0xffffffffu, b, 1);
        b += __shfl_xor_sync(0xffffffffu, b, 2);
        qsum[j][0] = a;
        qsum[j][1] = b;
    }
#else
    float kbias[2] = {0.0f, 0.0f};
    int prev = 0; // SPARSE: the previous step's real position
#endif
    for (int k = 0, t0 = start; t0 < end; k++, t0 += STEP) {
        // Every lane is done with the slot the next issue overwrites (summed in the previous step).
        __syncwarp();
        if (k + KV_STAGES - 1 < steps) {
            issue_step<TILES, SPARSE>(ring + ((k + KV_STAGES - 1) % KV_STAGES) * RingSlot<TILES>::WORDS_, t0 + (KV_STAGES - 1) * STEP,
                    table, pool, pageBytes, regionOffset, group, groups, kParamBytes, lane, sp);
        }
        cp_async_commit();
        cp_async_wait<KV_STAGES - 1>(); // this lane's copies of step k have landed ...
        __syncwarp();                   // ... and so have the other lanes' (each lane copies words others read)
        const u32* slot = ring + (k % KV_STAGES) * RingSlot<TILES>::WORDS_;
        const int r = SPARSE ? sp.real(t0) : t0;
        u32 kw[TILES][WORDS], vw[TILES][WORDS];
#pragma unroll
        for (int u = 0; u < TILES; u++) {
#pragma unroll
            for (int i = 0; i < WORDS; i++) {
                kw[u][i] = slot[RingSlot<TILES>::KEY_CODES + (u * WORDS + i) * 32 + lane];
                vw[u][i] = slot[RingSlot<TILES>::VALUE_CODES + (u * WORDS + i) * 32 + lane];
            }
        }
#if KEY_CHANNEL
        if (t0 == start || r % group == 0 || (SPARSE && r != prev + STEP)) {
            // A new block of g tokens: the query times each channel's scale, and the bias sum_c q_c min_c.
            const uint2* kp = reinterpret_cast<const uint2*>(slot + RingSlot<TILES>::KEY_PARAMS);
            float b0 = 0.0f, b1 = 0.0f;
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
#pragma unroll
                for (int half = 0; half < 2; half++) {
                    const int c = ct * 16 + 8 * half + 2 * tig;
                    const uint2 sm = kp[c / 2];
                    const u32 q0 = q_pair(qs, gid, c), q1 = q_pair(qs, gid + 8, c);
                    *reinterpret_cast<u32*>(qf + gid * QSTRIDE + c) = hmul2(q0, sm.x);
                    *reinterpret_cast<u32*>(qf + (gid + 8) * QSTRIDE + c) = hmul2(q1, sm.x);
                    b0 += lo_f(q0) * lo_f(sm.y) + hi_f(q0) * hi_f(sm.y);
                    b1 += lo_f(q1) * lo_f(sm.y) + hi_f(q1) * hi_f(sm.y);
                }
            }
            b0 += __shfl_xor_sync(0xffffffffu, b0, 1);
            b0 += __shfl_xor_sync(0xffffffffu, b0, 2);
            b1 += __shfl_xor_sync(0xffffffffu, b1, 1);
            b1 += __shfl_xor_sync(0xffffffffu, b1, 2);
            kbias[0] = b0;
            kbias[1] = b1;
        }
        prev = r;
#endif
        // Parameters of tokens 2tig, 2tig + 1, 2tig + 8, 2tig + 9 (C columns of the scores, A columns of P), from the
        // step's copy: token u * 16 + i of the step at word (u * 16 + i) * groups + j.
#if !KEY_CHANNEL
        const u32* kpt = slot + RingSlot<TILES>::KEY_PARAMS;
#endif
        const u32* vpt = slot + RingSlot<TILES>::VALUE_PARAMS;
        float s[TILES][2][4];
#pragma unroll
        for (int u = 0; u < TILES; u++) {
#pragma unroll
            for (int i = 0; i < 4; i++) s[u][0][i] = s[u][1][i] = 0.0f;
#if KEY_CHANNEL
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
                u32 a[4];
                a[0] = q_pair(qf, gid, ct * 16 + 2 * tig);
                a[1] = q_pair(qf, gid + 8, ct * 16 + 2 * tig);
                a[2] = q_pair(qf, gid, ct * 16 + 8 + 2 * tig);
                a[3] = q_pair(qf, gid + 8, ct * 16 + 8 + 2 * tig);
                const u32 w = word_of(kw[u], ct);
                mma16816(s[u][0], a, exact_codes(w, 0), exact_codes(w, 1));
                mma16816(s[u][1], a, exact_codes(w, 2), exact_codes(w, 3));
            }
#pragma unroll
            for (int i = 0; i < 4; i++) {
                s[u][0][i] += kbias[i >> 1];
                s[u][1][i] += kbias[i >> 1];
            }
#else
            const int tok[4] = {u * 16 + 2 * tig, u * 16 + 2 * tig + 1, u * 16 + 2 * tig + 8, u * 16 + 2 * tig + 9};
#pragma unroll
            for (int j = 0; j < MAXG; j++) {
                if (j >= groups) break;
                float part[2][4];
#pragma unroll
                for (int i = 0; i < 4; i++) part[0][i] = part[1][i] = 0.0f;
#pragma unroll
                for (int ct = 0; ct < CT; ct++) {
                    if (ct / ctPerGroup != j) continue;
                    u32 a[4];
                    a[0] = q_pair(qs, gid, ct * 16 + 2 * tig);
                    a[1] = q_pair(qs, gid + 8, ct * 16 + 2 * tig);
                    a[2] = q_pair(qs, gid, ct * 16 + 8 + 2 * tig);
                    a[3] = q_pair(qs, gid + 8, ct * 16 + 8 + 2 * tig);
                    const u32 w = word_of(kw[u], ct);
                    mma16816(part[0], a, exact_codes(w, 0), exact_codes(w, 1));
                    mma16816(part[1], a, exact_codes(w, 2), exact_codes(w, 3));
                }
#pragma unroll
                for (int nt = 0; nt < 2; nt++) {
#pragma unroll
                    for (int i = 0; i < 4; i++) {
                        const u32 sm = kpt[tok[2 * nt + (i & 1)] * groups + j];
                        s[u][nt][i] += lo_f(sm) * part[nt][i] + hi_f(sm) * qsum[j][i >> 1];
                    }
                }
            }
#endif
        }
        float mx[2] = {NEG_INF, NEG_INF};
#pragma unroll
        for (int u = 0; u < TILES; u++) {
#pragma unroll
            for (int nt = 0; nt < 2; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    s[u][nt][i] *= scaleLog2;
                    mx[i >> 1] = fmaxf(mx[i >> 1], s[u][nt][i]);
                }
            }
        }
        float corr[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float mNew = fmaxf(m[r], mx[r]);
            corr[r] = exp2f(m[r] - mNew);
            m[r] = mNew;
            l[r] *= corr[r];
        }
#pragma unroll
        for (int u = 0; u < TILES; u++) {
#pragma unroll
            for (int nt = 0; nt < 2; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    const float e = exp2f(s[u][nt][i] - m[i >> 1]);
                    s[u][nt][i] = e;
                    l[i >> 1] += e;
                }
            }
        }
        // Rescale only when some row's max rose (a multiply by exactly 1 otherwise: same bits, less work).
        if (__any_sync(0xffffffffu, corr[0] != 1.0f || corr[1] != 1.0f)) {
#pragma unroll
            for (int i = 0; i < CT * 8; i++) o[i] *= corr[(i >> 1) & 1];
#pragma unroll
            for (int j = 0; j < MAXG; j++) {
                vbias[j][0] *= corr[0];
                vbias[j][1] *= corr[1];
            }
        }
#pragma unroll
        for (int u = 0; u < TILES; u++) {
            const int tok[4] = {u * 16 + 2 * tig, u * 16 + 2 * tig + 1, u * 16 + 2 * tig + 8, u * 16 + 2 * tig + 9};
#pragma unroll
            for (int j = 0; j < MAXG; j++) {
                if (j >= groups) break;
                float sc[4], mn[4];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    const u32 sm = vpt[tok[k] * groups + j];
                    sc[k] = lo_f(sm);
                    mn[k] = hi_f(sm);
                }
                // P columns: s[u][0][0..1] and s[u][0][2..3] are tokens 2tig, 2tig+1 (rows gid, gid+8); s[u][1][..] tokens +8.
                vbias[j][0] += s[u][0][0] * mn[0] + s[u][0][1] * mn[1] + s[u][1][0] * mn[2] + s[u][1][1] * mn[3];
                vbias[j][1] += s[u][0][2] * mn[0] + s[u][0][3] * mn[1] + s[u][1][2] * mn[2] + s[u][1][3] * mn[3];
                u32 pa[4];
                pa[0] = pack_half2(s[u][0][0] * sc[0], s[u][0][1] * sc[1]);
                pa[1] = pack_half2(s[u][0][2] * sc[0], s[u][0][3] * sc[1]);
                pa[2] = pack_half2(s[u][1][0] * sc[2], s[u][1][1] * sc[3]);
                pa[3] = pack_half2(s[u][1][2] * sc[2], s[u][1][3] * sc[3]);
#pragma unroll
                for (int ct = 0; ct < CT; ct++) {
                    if (ct / ctPerGroup != j) continue;
                    const u32 w = word_of(vw[u], ct);
                    mma16816(o + ct * 8, pa, exact_codes(w, 0), exact_codes(w, 1));
                    mma16816(o + ct * 8 + 4, pa, exact_codes(w, 2), exact_codes(w, 3));
                }
            }
        }
    }
    // The per-group sums of P * min belong to every channel of their group.
#pragma unroll
    for (int j = 0; j < MAXG; j++) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            vbias[j][r] += __shfl_xor_sync(0xffffffffu, vbias[j][r], 1);
            vbias[j][r] += __shfl_xor_sync(0xffffffffu, vbias[j][r], 2);
        }
    }
#pragma unroll
    for (int ct = 0; ct < CT; ct++) {
        const int j = ct / ctPerGroup;
#pragma unroll
        for (int i = 0; i < 8; i++) {
#pragma unroll
            for (int jj = 0; jj < MAXG; jj++) {
                if (jj == j) o[ct * 8 + i] += vbias[jj][(i >> 1) & 1];
            }
        }
    }
}
#endif

// Grid (kvHeads, sequences, blocks); 128 threads. partial [seq][kvHead][split][16][D], stats [..][16] x {max, sum}.
// Queries q [seq][heads * D]; table [seq][maxPages]; info [seq][INFO_WORDS].
// SPARSE: the packed splits walk the virtual positions of the (seq, kvHead) row of lists (SparseMap).
template <bool FOLD, int TILES, bool SPARSE>
__device__ __forceinline__ void decode_body(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2, const int* __restrict__ lists, int listStride, int blk) {
    __shared__ __align__(16) u16 qs[16 * QSTRIDE];
#if KV_BITS != 16
    __shared__ __align__(16) u16 qf[FOLD ? 4 * 16 * QSTRIDE : 1]; // per warp: the query times the key scales of a block
#endif
    const int kvh = blockIdx.x, seq = blockIdx.y, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gq = heads / kvHeads, kvDim = kvHeads * D;
    for (int i = tid; i < 16 * D; i += 128) {
        const int r = i / D, d = i % D;
        qs[r * QSTRIDE + d] = r < gq ? f2h(q[(size_t) seq * heads * D + (size_t) (kvh * gq + r) * D + d]) : (u16) 0;
    }
    __syncthreads();
    const int split = blockIdx.z * 4 + warp, splits = gridDim.z * 4;
    const long long* in = info + (size_t) seq * INFO_WORDS;
    const int packed = (int) in[INFO_PACKED], ringLen = (int) in[INFO_RING_LEN];
    float o[CT * 8];
#pragma unroll
    for (int i = 0; i < CT * 8; i++) o[i] = 0.0f;
    float m[2] = {NEG_INF, NEG_INF}, l[2] = {0.0f, 0.0f};
    bool any = false;
    if (split < packedSplits) {
        SparseMap sp = {nullptr, 0, 0, 0};
        int walk = packed; // the positions the packed splits walk: virtual ones when SPARSE
        if constexpr (SPARSE) {
            const int* row = lists + ((size_t) seq * kvHeads + kvh) * listStride;
            const int count = row[0], limit = packed / blk;
            // nFull = ids below limit. Ids ascend, so those at or past it are a suffix (a handful: blocks of the packed
            // tail and ring); count them from the end, 32 at a time, until a window holds one below.
            int nFull = count;
            for (int top = count; top > 0; top -= 32) {
                const int i = top - 1 - lane;
                const u32 past = __ballot_sync(0xffffffffu, i >= 0 && row[1 + i] >= limit);
                nFull -= __popc(past);
                if (past != 0xffffffffu) break;
            }
            sp.ids = row + 1;
            sp.nFull = nFull;
            sp.blk = blk;
            sp.fullEnd = limit * blk;
            walk = nFull * blk + (packed - sp.fullEnd);
        }
        const int start = split * chunk, end = min(walk, start + chunk);
        if (start < end) {
            any = true;
#if KV_BITS != 16
            if (FOLD) {
                extern __shared__ __align__(16) u32 ringMem[];
                u32* ring = ringMem + warp * KV_STAGES * RingSlot<TILES>::WORDS_;
                unsigned given;
                asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(given));
                if (given < RING_WARPS * KV_STAGES * RingSlot<TILES>::WORDS_ * 4u) __trap(); // the host sized the ring wrong
                attend_folded<TILES, SPARSE>(qs, qf + warp * 16 * QSTRIDE, ring, tables + (size_t) seq * maxPages, pool, pageBytes,
                        ((long long) layer * kvHeads + kvh) * regionBytes, start, end, group, scaleLog2, lane, o, m, l, sp);
            } else
#endif
            attend_range<false, SPARSE>(qs, tables + (size_t) seq * maxPages, pool, pageBytes, ((long long) layer * kvHeads + kvh) * regionBytes,
                    nullptr, nullptr, kvDim, start, end, group, scaleLog2, lane, o, m, l, sp);
        }
    } else if (split == packedSplits && ringLen > 0) {
        any = true;
        const size_t ringOff = (size_t) layer * blockTokens * kvDim + (size_t) kvh * D;
        attend_range<true, false>(qs, nullptr, nullptr, 0, 0, reinterpret_cast<const float*>(in[INFO_RING_K]) + ringOff,
                reinterpret_cast<const float*>(in[INFO_RING_V]) + ringOff, kvDim, 0, ringLen, group, scaleLog2, lane, o, m, l, SparseMap{nullptr, 0, 0, 0});
    }
    const size_t slot = (((size_t) seq * kvHeads + kvh) * splits + split) * 16;
    const int gid = lane >> 2, tig = lane & 3;
    if (!any) {
        if (lane < 16) {
            stats[2 * (slot + lane)] = NEG_INF;
            stats[2 * (slot + lane) + 1] = 0.0f;
        }
        return;
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int row = gid + 8 * r;
        if (row >= gq) continue;
        float* dst = partial + (slot + row) * D;
#pragma unroll
        for (int ct = 0; ct < CT; ct++) {
#pragma unroll
            for (int nt = 0; nt < 2; nt++) {
                const float* f = o + ct * 8 + nt * 4 + 2 * r;
                *reinterpret_cast<float2*>(dst + ct * 16 + nt * 8 + 2 * tig) = make_float2(f[0], f[1]);
            }
        }
        if (tig == 0) {
            stats[2 * (slot + row)] = m[r];
            stats[2 * (slot + row) + 1] = l[r];
        }
    }
}

#if KV_BITS != 16
// ---- transposed folded decode (kv_decode_folded_t: DecodeKernel.FOLDED_T, the default) ---------------
// attend_folded's math, folding and copy ring with the MMA operands swapped. With the query heads as the M = 16 rows,
// a group of 4 heads (Llama-3-8B) leaves 12 of 16 rows zero in every QK^T and PV MMA and half of o; here the heads are
// the N = 8 columns:
//   S^T (16 tokens x 8 heads)    = K   (A: tokens x channels) . Q^T (B: channels x heads)
//   O^T (16 channels x 8 heads) += V^T (A: channels x tokens) . P^T (B: tokens x heads)
// so up to 8 heads take one n-tile (NT = 2 n-tiles for 9-16: kv_decode_folded_t16), half the MMAs of attend_folded,
// o^T is CT x 4 floats per n-tile and the query's B fragments stay in registers for the whole split.
// No layout change: m16n8k16's A fragment gives lane (gid, tig) {a0a1, a2a3, a4a5, a6a7} = (row gid, k 2tig..),
// (row gid + 8, k 2tig..), (row gid, k 2tig + 8..), (row gid + 8, k 2tig + 8..). A stored key tile's pairs p = 0..3
// are (token gid, channels 2tig..), (token gid, 2tig + 8..), (token gid + 8, 2tig..), (token gid + 8, 2tig + 8..), a
// value tile's (channel gid, tokens 2tig..), (channel gid, 2tig + 8..), (channel gid + 8, 2tig..), (channel gid + 8,
// 2tig + 8..): in the order {0, 2, 1, 3} both are the A fragment, of K and of V^T.
// C fragment of S^T: lane (gid, tig) holds tokens gid (c0, c1) and gid + 8 (c2, c3) of heads 2tig, 2tig + 1, so each
// head's max and sum reduce over the 8 lanes of one tig (xor 4, 8, 16). PV's B fragment wants tokens 2tig, 2tig + 1
// (b0b1) and 2tig + 8, 2tig + 9 (b2b3) of head gid: the transpose of each 8 x 8 half of P, one movmatrix each.

// Keys enter the MMA as the fp16 numbers 1024 + code (a shift and a mask-or per pair; no subtraction) and each head's
// scores are corrected by 1024 x (sum of the query over the same channels), folded into the bias added anyway (keys per
// channel: the accumulator starts there; per token: into the min term). Why the error stays small: fp16 x fp16
// products are exact and the MMA accumulates in fp32, so the offset only adds rounding of the partial sums, whose size
// is set by 1024 q (~2^7 times the code part for int4, ~2^9 for int2): relative ~2^-24 x that, ~2^-17..2^-15, and
// only within one step (the correction is exact per step, nothing carries). That error is almost the same for every
// token of a block, so the softmax within a split cancels it; what remains is a small shift of the split's
// log-sum-exp, alike between splits. scripts/kv-folded-t-emulation.py with fp32 truncated after every product (worse
// than the hardware), 4 splits merged: outputs within 2.2e-4 of max|v| as with exact codes (check bounds 1e-2..5e-2),
// merged log-sum-exp off by up to 1.4e-2 (base 2; d256 int2 keys per channel, q ~ 2; 3.4e-3 at q ~ 0.5).
// Values keep exact codes: their offset would build up in o over the whole split (thousands of steps at long contexts)
// and its correction would need the fp16-rounded P' of every token. KVT_KEY_OFFSET=0 restores exact key codes (for an
// A/B on the GPU check; the host does not set it).
#ifndef KVT_KEY_OFFSET
#define KVT_KEY_OFFSET 1
#endif

/** Pair p of a code word as the two halves 1024 + code (exact in fp16). */
__device__ __forceinline__ u32 offset_codes(u32 word, int p) {
#if KV_BITS == 4
    return ((word >> (4 * p)) & 0x000F000Fu) | 0x64006400u;
#else
    return ((word >> (2 * p)) & 0x00030003u) | 0x64006400u;
#endif
}

/** The A fragment (m16n8k16) of a stored key tile read as K: pairs {0, 2, 1, 3} (see above). */
__device__ __forceinline__ void key_tile_a(u32 w, u32* a) {
#if KVT_KEY_OFFSET
    a[0] = offset_codes(w, 0); a[1] = offset_codes(w, 2); a[2] = offset_codes(w, 1); a[3] = offset_codes(w, 3);
#else
    a[0] = exact_codes(w, 0); a[1] = exact_codes(w, 2); a[2] = exact_codes(w, 1); a[3] = exact_codes(w, 3);
#endif
}

/** The A fragment of a stored value tile read as V^T: pairs {0, 2, 1, 3}, exact codes. */
__device__ __forceinline__ void value_tile_a(u32 w, u32* a) {
    a[0] = exact_codes(w, 0); a[1] = exact_codes(w, 2); a[2] = exact_codes(w, 1); a[3] = exact_codes(w, 3);
}

/** movmatrix: lane (gid, tig) holds (row gid, columns 2tig, 2tig + 1) of an 8 x 8 fp16 matrix and gets (rows 2tig, 2tig + 1; column gid). */
__device__ __forceinline__ u32 transpose8(u32 x) {
    u32 d;
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(d) : "r"(x));
    return d;
}

/** A per-head value held by the lanes whose gid is the head (B layout), fetched for head 2tig + e (C layout). */
__device__ __forceinline__ float col_head(float v, int tig, int e) {
    return __shfl_sync(0xffffffffu, v, 8 * tig + 4 * e);
}

/** Sum over the 8 lanes of one tig (the rows of a C fragment column). */
__device__ __forceinline__ float col_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 4);
    v += __shfl_xor_sync(0xffffffffu, v, 8);
    v += __shfl_xor_sync(0xffffffffu, v, 16);
    return v;
}

// One warp = one packed split [start, end) (virtual positions when SPARSE), 16-token steps through the TILES = 1 ring.
// o[ct][nt] is the C fragment of O^T (channels ct * 16 + gid (+ 8), heads 8nt + 2tig + {0, 1}); m (unscaled scores),
// l per column head 8nt + 2tig + e, l still partial over gid.
template <int NT, bool SPARSE>
__device__ __forceinline__ void attend_folded_t(const u16* qs, u32* ring, const int* table, const char* pool, long long pageBytes,
        long long regionOffset, int start, int end, int group, float scaleLog2, int lane, float (&o)[CT][NT][4], float (&m)[NT][2],
        float (&l)[NT][2], SparseMap sp) {
    using Slot = RingSlot<1>;
    const int gid = lane >> 2, tig = lane & 3;
    const int cg = min(group, D), groups = D / cg, ctPerGroup = cg / 16;
    const int kParamBytes = key_param_bytes(group);
    const int steps = (end - start + 15) / 16;
#pragma unroll
    for (int k = 0; k < KV_STAGES - 1; k++) {
        if (k < steps) issue_step<1, SPARSE>(ring + k * Slot::WORDS_, start + 16 * k, table, pool, pageBytes, regionOffset, group, groups,
                kParamBytes, lane, sp);
        cp_async_commit();
    }
    float vbias[MAXG][NT][2]; // per value group and column head: running sum of P * min (partial over gid)
#pragma unroll
    for (int j = 0; j < MAXG; j++) {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) vbias[j][nt][0] = vbias[j][nt][1] = 0.0f;
    }
    // B fragments of Q^T: head 8nt + gid, channels ct * 16 + 2tig + 8h + {0, 1} (keys per channel: times the block's scales).
    // Lanes past the group read the zero rows of qs.
    u32 qb[NT][CT][2];
#if !KEY_CHANNEL
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
#pragma unroll
        for (int ct = 0; ct < CT; ct++) {
#pragma unroll
            for (int h = 0; h < 2; h++) qb[nt][ct][h] = q_pair(qs, 8 * nt + gid, ct * 16 + 8 * h + 2 * tig);
        }
    }
    float qsum[MAXG][NT][2]; // sum of q over each key group, column heads 8nt + 2tig + e
#pragma unroll
    for (int j = 0; j < MAXG; j++) {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            float a = 0.0f;
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
                if (j >= groups || ct / ctPerGroup != j) continue;
#pragma unroll
                for (int h = 0; h < 2; h++) a += lo_f(qb[nt][ct][h]) + hi_f(qb[nt][ct][h]);
            }
            a += __shfl_xor_sync(0xffffffffu, a, 1);
            a += __shfl_xor_sync(0xffffffffu, a, 2);
            qsum[j][nt][0] = col_head(a, tig, 0);
            qsum[j][nt][1] = col_head(a, tig, 1);
        }
    }
#else
    float kb[NT][2]; // per column head: sum_c q_c min_c, minus 1024 sum_c q'_c with the key offset
    int prev = 0;    // SPARSE: the previous step's real position
#endif
    for (int k = 0, t0 = start; t0 < end; k++, t0 += 16) {
        // Every lane is done with the slot the next issue overwrites (summed in the previous step).
        __syncwarp();
        if (k + KV_STAGES - 1 < steps) {
            issue_step<1, SPARSE>(ring + ((k + KV_STAGES - 1) % KV_STAGES) * Slot::WORDS_, t0 + (KV_STAGES - 1) * 16, table, pool, pageBytes,
                    regionOffset, group, groups, kParamBytes, lane, sp);
        }
        cp_async_commit();
        cp_async_wait<KV_STAGES - 1>(); // this lane's copies of step k have landed ...
        __syncwarp();                   // ... and so have the other lanes'
        const u32* slot = ring + (k % KV_STAGES) * Slot::WORDS_;
        u32 kw[WORDS], vw[WORDS];
#pragma unroll
        for (int i = 0; i < WORDS; i++) {
            kw[i] = slot[Slot::KEY_CODES + i * 32 + lane];
            vw[i] = slot[Slot::VALUE_CODES + i * 32 + lane];
        }
        float s[NT][4]; // C fragments of S^T: tokens gid (0, 1), gid + 8 (2, 3); heads 8nt + 2tig + {0, 1}; unscaled
#if KEY_CHANNEL
        const int r = SPARSE ? sp.real(t0) : t0;
        if (t0 == start || r % group == 0 || (SPARSE && r != prev + 16)) {
            // A new block of g tokens: the query times each channel's scale, in registers, and the per-head bias.
            const uint2* kp = reinterpret_cast<const uint2*>(slot + Slot::KEY_PARAMS);
            float b[NT], z[NT];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) b[nt] = z[nt] = 0.0f;
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int c = ct * 16 + 8 * h + 2 * tig;
                    const uint2 sm = kp[c / 2];
#pragma unroll
                    for (int nt = 0; nt < NT; nt++) {
                        const u32 qv = q_pair(qs, 8 * nt + gid, c), f = hmul2(qv, sm.x);
                        qb[nt][ct][h] = f;
                        b[nt] += lo_f(qv) * lo_f(sm.y) + hi_f(qv) * hi_f(sm.y);
                        z[nt] += lo_f(f) + hi_f(f); // the fp16 values the MMA multiplies
                    }
                }
            }
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                b[nt] += __shfl_xor_sync(0xffffffffu, b[nt], 1);
                b[nt] += __shfl_xor_sync(0xffffffffu, b[nt], 2);
#if KVT_KEY_OFFSET
                z[nt] += __shfl_xor_sync(0xffffffffu, z[nt], 1);
                z[nt] += __shfl_xor_sync(0xffffffffu, z[nt], 2);
                const float v = fmaf(-1024.0f, z[nt], b[nt]);
#else
                const float v = b[nt];
#endif
                kb[nt][0] = col_head(v, tig, 0);
                kb[nt][1] = col_head(v, tig, 1);
            }
        }
        prev = r;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            s[nt][0] = s[nt][2] = kb[nt][0];
            s[nt][1] = s[nt][3] = kb[nt][1];
        }
#pragma unroll
        for (int ct = 0; ct < CT; ct++) {
            u32 a[4];
            key_tile_a(word_of(kw, ct), a);
#pragma unroll
            for (int nt = 0; nt < NT; nt++) mma16816(s[nt], a, qb[nt][ct][0], qb[nt][ct][1]);
        }
#else
        // Keys per token: each group's partial scores times the token's scale, plus (min - 1024 scale with the key
        // offset) times the group's query sum; this lane's tokens are gid and gid + 8 of the step.
        const u32* kpt = slot + Slot::KEY_PARAMS;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
#pragma unroll
            for (int i = 0; i < 4; i++) s[nt][i] = 0.0f;
        }
#pragma unroll
        for (int j = 0; j < MAXG; j++) {
            if (j >= groups) break;
            float part[NT][4];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) part[nt][i] = 0.0f;
            }
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
                if (ct / ctPerGroup != j) continue;
                u32 a[4];
                key_tile_a(word_of(kw, ct), a);
#pragma unroll
                for (int nt = 0; nt < NT; nt++) mma16816(part[nt], a, qb[nt][ct][0], qb[nt][ct][1]);
            }
            const u32 w0 = kpt[gid * groups + j], w1 = kpt[(gid + 8) * groups + j];
            const float sc[2] = {lo_f(w0), lo_f(w1)};
#if KVT_KEY_OFFSET
            const float mn[2] = {fmaf(-1024.0f, sc[0], hi_f(w0)), fmaf(-1024.0f, sc[1], hi_f(w1))};
#else
            const float mn[2] = {hi_f(w0), hi_f(w1)};
#endif
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) s[nt][i] += sc[i >> 1] * part[nt][i] + mn[i >> 1] * qsum[j][nt][i & 1];
            }
        }
#endif
        // Online softmax per column head (m in unscaled units: scaleLog2 > 0 keeps the max; stats get m * scaleLog2).
        float corr[NT][2];
        bool moved = false;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                float x = fmaxf(s[nt][e], s[nt][2 + e]);
                x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 4));
                x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 8));
                x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 16));
                const float mNew = fmaxf(m[nt][e], x); // finite: every step has 16 valid tokens
                corr[nt][e] = exp2f((m[nt][e] - mNew) * scaleLog2);
                moved |= corr[nt][e] != 1.0f;
                m[nt][e] = mNew;
                const float ms = mNew * scaleLog2;
                s[nt][e] = exp2f(fmaf(s[nt][e], scaleLog2, -ms));
                s[nt][2 + e] = exp2f(fmaf(s[nt][2 + e], scaleLog2, -ms));
                l[nt][e] = l[nt][e] * corr[nt][e] + (s[nt][e] + s[nt][2 + e]);
            }
        }
        // Rescale only when some head's max rose (a multiply by exactly 1 otherwise: same bits, less work).
        if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
#pragma unroll
                for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                    for (int i = 0; i < 4; i++) o[ct][nt][i] *= corr[nt][i & 1];
                }
            }
#pragma unroll
            for (int j = 0; j < MAXG; j++) {
#pragma unroll
                for (int nt = 0; nt < NT; nt++) {
                    vbias[j][nt][0] *= corr[nt][0];
                    vbias[j][nt][1] *= corr[nt][1];
                }
            }
        }
        // P' = P x value scale of (token, group), transposed into B fragments; P x min summed per head.
        const u32* vpt = slot + Slot::VALUE_PARAMS;
#pragma unroll
        for (int j = 0; j < MAXG; j++) {
            if (j >= groups) break;
            const u32 w0 = vpt[gid * groups + j], w1 = vpt[(gid + 8) * groups + j]; // tokens gid, gid + 8 of the step
            const float sc0 = lo_f(w0), mn0 = hi_f(w0), sc1 = lo_f(w1), mn1 = hi_f(w1);
            u32 pb[NT][2];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                vbias[j][nt][0] += s[nt][0] * mn0 + s[nt][2] * mn1;
                vbias[j][nt][1] += s[nt][1] * mn0 + s[nt][3] * mn1;
                pb[nt][0] = transpose8(pack_half2(s[nt][0] * sc0, s[nt][1] * sc0)); // tokens 2tig, 2tig + 1 of head gid
                pb[nt][1] = transpose8(pack_half2(s[nt][2] * sc1, s[nt][3] * sc1)); // tokens 2tig + 8, 2tig + 9
            }
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
                if (ct / ctPerGroup != j) continue;
                u32 a[4];
                value_tile_a(word_of(vw, ct), a);
#pragma unroll
                for (int nt = 0; nt < NT; nt++) mma16816(o[ct][nt], a, pb[nt][0], pb[nt][1]);
            }
        }
    }
    // The per-group sums of P * min belong to every channel of their group.
#pragma unroll
    for (int j = 0; j < MAXG; j++) {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            vbias[j][nt][0] = col_sum(vbias[j][nt][0]);
            vbias[j][nt][1] = col_sum(vbias[j][nt][1]);
        }
    }
#pragma unroll
    for (int ct = 0; ct < CT; ct++) {
        const int j = ct / ctPerGroup;
#pragma unroll
        for (int jj = 0; jj < MAXG; jj++) {
            if (jj != j) continue;
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int i = 0; i < 4; i++) o[ct][nt][i] += vbias[jj][nt][i & 1];
            }
        }
    }
}

/** A packed split's result from the column layout of attend_folded_t: partial rows = query heads of the group. */
template <int NT>
__device__ __forceinline__ void write_cols(float* __restrict__ partial, float* __restrict__ stats, size_t slot, int gq, int lane,
        const float (&o)[CT][NT][4], const float (&m)[NT][2], float (&l)[NT][2], float scaleLog2) {
    const int gid = lane >> 2, tig = lane & 3;
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
        l[nt][0] = col_sum(l[nt][0]);
        l[nt][1] = col_sum(l[nt][1]);
    }
#pragma unroll
    for (int nt = 0; nt < NT; nt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int head = 8 * nt + 2 * tig + e;
            if (head >= gq) continue;
            float* dst = partial + (slot + head) * D + gid;
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
                dst[ct * 16] = o[ct][nt][e];
                dst[ct * 16 + 8] = o[ct][nt][2 + e];
            }
            if (gid == 0) {
                stats[2 * (slot + head)] = m[nt][e] * scaleLog2; // base 2, as the row layout's
                stats[2 * (slot + head) + 1] = l[nt][e];
            }
        }
    }
}

// decode_body for the transposed kernel: packed splits in the column layout, the ring split through attend_range in the
// row layout (each warp writes its own layout to the same partial / stats rows, so kv_combine is unchanged).
template <int NT, bool SPARSE>
__device__ __forceinline__ void decode_body_t(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2, const int* __restrict__ lists, int listStride, int blk) {
    PDL_TRIGGER();
    PDL_WAIT();
    __shared__ __align__(16) u16 qs[16 * QSTRIDE];
    const int kvh = blockIdx.x, seq = blockIdx.y, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int gq = heads / kvHeads, kvDim = kvHeads * D;
    if (gq > 8 * NT) __trap(); // the host takes kv_decode_folded_t16 (NT = 2) past 8 query heads per KV head
    for (int i = tid; i < 16 * D; i += 128) {
        const int r = i / D, d = i % D;
        qs[r * QSTRIDE + d] = r < gq ? f2h(q[(size_t) seq * heads * D + (size_t) (kvh * gq + r) * D + d]) : (u16) 0;
    }
    __syncthreads();
    const int split = blockIdx.z * 4 + warp, splits = gridDim.z * 4;
    const long long* in = info + (size_t) seq * INFO_WORDS;
    const int packed = (int) in[INFO_PACKED], ringLen = (int) in[INFO_RING_LEN];
    const size_t slot = (((size_t) seq * kvHeads + kvh) * splits + split) * 16;
    const int gid = lane >> 2, tig = lane & 3;
    if (split < packedSplits) {
        SparseMap sp = {nullptr, 0, 0, 0};
        int walk = packed;
        if constexpr (SPARSE) { // as decode_body
            const int* row = lists + ((size_t) seq * kvHeads + kvh) * listStride;
            const int count = row[0], limit = packed / blk;
            int nFull = count;
            for (int top = count; top > 0; top -= 32) {
                const int i = top - 1 - lane;
                const u32 past = __ballot_sync(0xffffffffu, i >= 0 && row[1 + i] >= limit);
                nFull -= __popc(past);
                if (past != 0xffffffffu) break;
            }
            sp.ids = row + 1;
            sp.nFull = nFull;
            sp.blk = blk;
            sp.fullEnd = limit * blk;
            walk = nFull * blk + (packed - sp.fullEnd);
        }
        const int start = split * chunk, end = min(walk, start + chunk);
        if (start < end) {
            extern __shared__ __align__(16) u32 ringMem[];
            u32* ring = ringMem + warp * KV_STAGES * RingSlot<1>::WORDS_;
            unsigned given;
            asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(given));
            if (given < RING_WARPS * KV_STAGES * RingSlot<1>::WORDS_ * 4u) __trap(); // the host sized the ring wrong
            float o[CT][NT][4], m[NT][2], l[NT][2];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int ct = 0; ct < CT; ct++) {
#pragma unroll
                    for (int i = 0; i < 4; i++) o[ct][nt][i] = 0.0f;
                }
                m[nt][0] = m[nt][1] = NEG_INF;
                l[nt][0] = l[nt][1] = 0.0f;
            }
            attend_folded_t<NT, SPARSE>(qs, ring, tables + (size_t) seq * maxPages, pool, pageBytes, ((long long) layer * kvHeads + kvh) * regionBytes,
                    start, end, group, scaleLog2, lane, o, m, l, sp);
            write_cols<NT>(partial, stats, slot, gq, lane, o, m, l, scaleLog2);
            return;
        }
    } else if (split == packedSplits && ringLen > 0) {
        float o[CT * 8];
#pragma unroll
        for (int i = 0; i < CT * 8; i++) o[i] = 0.0f;
        float m[2] = {NEG_INF, NEG_INF}, l[2] = {0.0f, 0.0f};
        const size_t ringOff = (size_t) layer * blockTokens * kvDim + (size_t) kvh * D;
        attend_range<true, false>(qs, nullptr, nullptr, 0, 0, reinterpret_cast<const float*>(in[INFO_RING_K]) + ringOff,
                reinterpret_cast<const float*>(in[INFO_RING_V]) + ringOff, kvDim, 0, ringLen, group, scaleLog2, lane, o, m, l, SparseMap{nullptr, 0, 0, 0});
        // the row layout's write, as decode_body's
#pragma unroll
        for (int r = 0; r < 2; r++) {
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int row = gid + 8 * r;
            if (row >= gq) continue;
            float* dst = partial + (slot + row) * D;
#pragma unroll
            for (int ct = 0; ct < CT; ct++) {
#pragma unroll
                for (int nt = 0; nt < 2; nt++) {
                    const float* f = o + ct * 8 + nt * 4 + 2 * r;
                    *reinterpret_cast<float2*>(dst + ct * 16 + nt * 8 + 2 * tig) = make_float2(f[0], f[1]);
                }
            }
            if (tig == 0) {
                stats[2 * (slot + row)] = m[r];
                stats[2 * (slot + row) + 1] = l[r];
            }
        }
        return;
    }
    if (lane < 16) {
        stats[2 * (slot + lane)] = NEG_INF;
        stats[2 * (slot + lane) + 1] = 0.0f;
    }
}
#endif

// Blocks of the folded kernels per SM: at head dim <= 128, four for 16-token steps with keys per channel (128
// registers: ptxas spills 8 bytes at d 128, instead of using 168 and fitting three), else three (at four, the 32-token
// steps and keys per token spill 100-370 bytes); the ring and the folded query fit four times in shared memory.
#define FOLDED_MIN_BLOCKS(TILES) (D > 128 ? 1 : TILES == 1 && KEY_CHANNEL ? 4 : 3)
// The transposed kernels (nvcc 13.0, sm_90a, no spills unless said): one n-tile 96 registers at d64 (5 blocks), 128 at
// d128 (4), 255 at d256; two n-tiles (9-16 heads) 142-144 at d64 (3), 214 at d128 (2), 255 at d256 spilling 280-684
// bytes. Capping two n-tiles at 168 (3 blocks) spills 8-156 bytes at d128, one n-tile at 168 for d256 108-612.
#define FOLDED_T_MIN_BLOCKS(NT) (D > 128 ? 1 : NT == 1 ? (D > 64 ? 4 : 5) : (D > 64 ? 2 : 3))

extern "C" __global__ void __launch_bounds__(128) kv_decode(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2) {
    decode_body<false, 1, false>(q, tables, info, pool, partial, stats, heads, kvHeads, layer, regionBytes, pageBytes, maxPages, chunk, packedSplits,
            group, blockTokens, scaleLog2, nullptr, 0, 0);
}

extern "C" __global__ void __launch_bounds__(128, FOLDED_MIN_BLOCKS(1)) kv_decode_folded(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2) {
    decode_body<true, 1, false>(q, tables, info, pool, partial, stats, heads, kvHeads, layer, regionBytes, pageBytes, maxPages, chunk, packedSplits,
            group, blockTokens, scaleLog2, nullptr, 0, 0);
}

// The folded kernel stepping 32 tokens at a time (two tiles per max, rescale and shuffles); needs a chunk that is a
// multiple of 32 (CudaPagedAttention.Plan rounds int formats' chunks so).
extern "C" __global__ void __launch_bounds__(128, FOLDED_MIN_BLOCKS(2)) kv_decode_folded32(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2) {
#if KV_BITS != 16
    decode_body<true, 2, false>(q, tables, info, pool, partial, stats, heads, kvHeads, layer, regionBytes, pageBytes, maxPages, chunk, packedSplits,
            group, blockTokens, scaleLog2, nullptr, 0, 0);
#endif
}

// The sparse twins: the parameters of their dense kernels plus the block lists (see SparseMap): lists + (seq * kvHeads
// + kvHead) * listStride is [count, ids ascending], blocks of blk positions (a multiple of 32). The plan's splits
// cover the longest virtual length (CudaPagedAttention.SparsePlan); splits past a row's own are empty.
#define SPARSE_PARAMS const float* __restrict__ q, const int* __restrict__ tables, const long long* __restrict__ info, \
        const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats, int heads, int kvHeads, int layer, \
        long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits, int group, int blockTokens, float scaleLog2, \
        const int* __restrict__ lists, int listStride, int blk
#define SPARSE_ARGS q, tables, info, pool, partial, stats, heads, kvHeads, layer, regionBytes, pageBytes, maxPages, chunk, packedSplits, \
        group, blockTokens, scaleLog2, lists, listStride, blk

extern "C" __global__ void __launch_bounds__(128) kv_decode_sparse(SPARSE_PARAMS) {
    decode_body<false, 1, true>(SPARSE_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, FOLDED_MIN_BLOCKS(1)) kv_decode_folded_sparse(SPARSE_PARAMS) {
    decode_body<true, 1, true>(SPARSE_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, FOLDED_MIN_BLOCKS(2)) kv_decode_folded32_sparse(SPARSE_PARAMS) {
#if KV_BITS != 16
    decode_body<true, 2, true>(SPARSE_ARGS);
#endif
}

// The transposed folded kernel (attend_folded_t): kv_decode_folded_t serves up to 8 query heads per KV head (one n-tile),
// kv_decode_folded_t16 up to 16 (two); CudaPagedAttention picks by the group size. Dynamic shared memory: the TILES = 1 ring.
extern "C" __global__ void __launch_bounds__(128, FOLDED_T_MIN_BLOCKS(1)) kv_decode_folded_t(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2) {
#if KV_BITS != 16
    decode_body_t<1, false>(q, tables, info, pool, partial, stats, heads, kvHeads, layer, regionBytes, pageBytes, maxPages, chunk, packedSplits,
            group, blockTokens, scaleLog2, nullptr, 0, 0);
#endif
}

extern "C" __global__ void __launch_bounds__(128, FOLDED_T_MIN_BLOCKS(2)) kv_decode_folded_t16(const float* __restrict__ q, const int* __restrict__ tables,
        const long long* __restrict__ info, const char* __restrict__ pool, float* __restrict__ partial, float* __restrict__ stats,
        int heads, int kvHeads, int layer, long long regionBytes, long long pageBytes, int maxPages, int chunk, int packedSplits,
        int group, int blockTokens, float scaleLog2) {
#if KV_BITS != 16
    decode_body_t<2, false>(q, tables, info, pool, partial, stats, heads, kvHeads, layer, regionBytes, pageBytes, maxPages, chunk, packedSplits,
            group, blockTokens, scaleLog2, nullptr, 0, 0);
#endif
}

extern "C" __global__ void __launch_bounds__(128, FOLDED_T_MIN_BLOCKS(1)) kv_decode_folded_t_sparse(SPARSE_PARAMS) {
#if KV_BITS != 16
    decode_body_t<1, true>(SPARSE_ARGS);
#endif
}

extern "C" __global__ void __launch_bounds__(128, FOLDED_T_MIN_BLOCKS(2)) kv_decode_folded_t16_sparse(SPARSE_PARAMS) {
#if KV_BITS != 16
    decode_body_t<2, true>(SPARSE_ARGS);
#endif
}

// out [seq][heads * D] = merge of the splits: sum_s 2^(m_s - M) acc_s / sum_s 2^(m_s - M) l_s. Grid (heads, seqs),
// 128 threads, dynamic shared memory 4 * splits bytes (the split weights). The splits are spread over the threads:
// at long contexts there are hundreds, and one thread walking them all in turn (the first version) was bound by the
// latency of its dependent loads: ~40 us at 32K positions and one sequence.
#define COMBINE_COLS (D / 4)                  // float4 columns of a row
#define COMBINE_GROUPS (128 / COMBINE_COLS)   // threads that share a column, each summing every G-th split

__device__ __forceinline__ float block_reduce_128(float v, bool max, float* red) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = max ? fmaxf(v, other) : v + other;
    }
    __syncthreads(); // red may still be read from the previous call
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    return max ? fmaxf(fmaxf(red[0], red[1]), fmaxf(red[2], red[3])) : (red[0] + red[1]) + (red[2] + red[3]);
}

extern "C" __global__ void __launch_bounds__(128) kv_combine(const float* __restrict__ partial, const float* __restrict__ stats,
        float* __restrict__ out, int heads, int kvHeads, int splits) {
    PDL_TRIGGER();
    PDL_WAIT();
    extern __shared__ float weight[];
    __shared__ float red[4];
    __shared__ __align__(16) float4 sums[COMBINE_GROUPS][COMBINE_COLS];
    const int h = blockIdx.x, seq = blockIdx.y, gq = heads / kvHeads, kvh = h / gq, row = h % gq, tid = threadIdx.x;
    const size_t base = ((size_t) seq * kvHeads + kvh) * splits;
    float m = NEG_INF;
    for (int s = tid; s < splits; s += 128) m = fmaxf(m, stats[2 * ((base + s) * 16 + row)]);
    const float mMax = block_reduce_128(m, true, red);
    float l = 0.0f;
    for (int s = tid; s < splits; s += 128) {
        const float ms = stats[2 * ((base + s) * 16 + row)];
        const float w = ms != NEG_INF ? exp2f(ms - mMax) : 0.0f;
        weight[s] = w;
        l += w * stats[2 * ((base + s) * 16 + row) + 1];
    }
    l = block_reduce_128(l, false, red); // its barriers also publish weight[]
    const int col = tid % COMBINE_COLS, grp = tid / COMBINE_COLS;
    float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 4
    for (int s = grp; s < splits; s += COMBINE_GROUPS) {
        const float w = weight[s];
        if (w == 0.0f) continue;
        const float4 p = reinterpret_cast<const float4*>(partial + ((base + s) * 16 + row) * D)[col];
        a.x = fmaf(w, p.x, a.x);
        a.y = fmaf(w, p.y, a.y);
        a.z = fmaf(w, p.z, a.z);
        a.w = fmaf(w, p.w, a.w);
    }
    sums[grp][col] = a;
    __syncthreads();
    if (grp != 0) return;
#pragma unroll
    for (int g = 1; g < COMBINE_GROUPS; g++) {
        const float4 o = sums[g][col];
        a.x += o.x;
        a.y += o.y;
        a.z += o.z;
        a.w += o.w;
    }
    const float inv = 1.0f / l;
    reinterpret_cast<float4*>(out + (size_t) seq * heads * D + (size_t) h * D)[col] = make_float4(a.x * inv, a.y * inv, a.z * inv, a.w * inv);
}

// ---- packing ---------------------------------------------------------------------------------------------------
// kv_pack quantizes and packs whole blocks (g tokens; 16 for fp16) of keys and values. A block's rows come from the
// pass's fp32 K/V (positions at or after the pass start) or from the sequence's ring (older ones). Grid (jobs,
// kvHeads), 256 threads; job: page address, token in page, first position, pass start, pass row of the pass start,
// ring K and ring V of layer 0 (the kernel adds the layer's offset, so one job list serves every layer of a pass).
#define JOB_WORDS 7

/** The largest fp16 not above v (clamped to the fp16 range), as dev.bitcap.kv.GroupQuantizer.fp16AtMost. */
__device__ u16 fp16_at_most(float v) {
    const float c = fmaxf(-FP16_MAX, fminf(FP16_MAX, v));
    u16 h = f2h(c);
    if (h2f(h) > c) h = (h & 0x7FFF) == 0 ? (u16) 0x8001 : (u16) ((h & 0x8000) ? h + 1 : h - 1);
    return h;
}

__device__ u16 fp16_at_least(float v) {
    const float c = fmaxf(0.0f, fminf(FP16_MAX, v));
    u16 h = f2h(c);
    if (h2f(h) < c) h++;
    return h;
}

struct Source {
    const float* pass;
    const float* ring;
    long long first, passStart, passRow;
    int kvDim, col;

    __device__ float at(int t, int c) const {
        const long long p = first + t;
        if (p < passStart) return ring[(size_t) t * kvDim + col + c];
        return pass[(size_t) (passRow + p - passStart) * kvDim + col + c];
    }
};

#if KV_BITS != 16
/**
 * Quantizes n values src(t0 + i*dt, c0 + i*dc) exactly as GroupQuantizer.quantize (same fp16 parameters, same codes;
 * no fused multiply-adds), codes into codes[(t0 + i*dt) * D + c0 + i*dc]; returns {scale, min} as a word.
 */
__device__ u32 quantize_group(const Source& src, int t0, int c0, int dt, int dc, int n, unsigned char* codes) {
    float lo = __int_as_float(0x7f800000), hi = __int_as_float(0xff800000);
    for (int i = 0; i < n; i++) {
        const float v = src.at(t0 + i * dt, c0 + i * dc);
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    const int levels = (1 << KV_BITS) - 1;
    const u16 minBits = fp16_at_most(lo);
    const float mn = h2f(minBits);
    u16 scaleBits = fp16_at_least((float) (((double) hi - (double) mn) / levels));
    while (__fadd_rn(mn, __fmul_rn((float) levels, h2f(scaleBits))) < hi && h2f(scaleBits) < FP16_MAX) scaleBits++;
    const float scale = h2f(scaleBits);
    for (int i = 0; i < n; i++) {
        const int t = t0 + i * dt, c = c0 + i * dc;
        int q = 0;
        if (scale != 0.0f) {
            const float x = __fdiv_rn(__fsub_rn(src.at(t, c), mn), scale);
            const float f = floorf(x);
            q = (int) f + (x - f >= 0.5f ? 1 : 0); // Java's Math.round: half up
            q = max(0, min(levels, q));
        }
        codes[t * D + c] = (unsigned char) q;
    }
    return (u32) scaleBits | ((u32) minBits << 16);
}
#endif

/** Writes the code words of one block (tiles tt0 .. tt0 + tiles) from per-element codes [t][D]; V selects the value order. */
template <bool VALUE>
__device__ void write_words(const unsigned char* codes, char* dst, int tt0, int tiles, int tid, int threads) {
#if KV_BITS == 4
    const int words = tiles * CT * 32;
    for (int w = tid; w < words; w += threads) {
        const int lane = w % 32, ct = (w / 32) % CT, tl = w / 32 / CT, gid = lane >> 2, tig = lane & 3;
        u32 word = 0;
#pragma unroll
        for (int p = 0; p < 4; p++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int t = VALUE ? tl * 16 + 2 * tig + 8 * (p & 1) + e : tl * 16 + gid + 8 * (p >> 1);
                const int c = VALUE ? ct * 16 + gid + 8 * (p >> 1) : ct * 16 + 2 * tig + 8 * (p & 1) + e;
                word |= (u32) codes[t * D + c] << (4 * (p + 4 * e));
            }
        }
        reinterpret_cast<u32*>(dst)[((tt0 + tl) * CT + ct) * 32 + lane] = word;
    }
#elif KV_BITS == 2
    const int words = tiles * (CT / 2) * 32;
    for (int w = tid; w < words; w += threads) {
        const int lane = w % 32, cp = (w / 32) % (CT / 2), tl = w / 32 / (CT / 2), gid = lane >> 2, tig = lane & 3;
        u32 word = 0;
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const int ct = 2 * cp + s;
#pragma unroll
            for (int p = 0; p < 4; p++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int t = VALUE ? tl * 16 + 2 * tig + 8 * (p & 1) + e : tl * 16 + gid + 8 * (p >> 1);
                    const int c = VALUE ? ct * 16 + gid + 8 * (p >> 1) : ct * 16 + 2 * tig + 8 * (p & 1) + e;
                    word |= (u32) codes[t * D + c] << (2 * (p + 4 * s) + 16 * e);
                }
            }
        }
        reinterpret_cast<u32*>(dst)[((tt0 + tl) * (CT / 2) + cp) * 32 + lane] = word;
    }
#endif
}

#if KV_BITS == 16
/** fp16: each lane's 8 halves of a tile, rounded to nearest, straight from the source rows. */
template <bool VALUE>
__device__ void write_halves(const Source& src, char* dst, int tt0, int tiles, int tid, int threads) {
    const int words = tiles * CT * 32;
    for (int w = tid; w < words; w += threads) {
        const int lane = w % 32, ct = (w / 32) % CT, tl = w / 32 / CT, gid = lane >> 2, tig = lane & 3;
        u32 pr[4];
#pragma unroll
        for (int p = 0; p < 4; p++) {
            float v[2];
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int t = VALUE ? tl * 16 + 2 * tig + 8 * (p & 1) + e : tl * 16 + gid + 8 * (p >> 1);
                const int c = VALUE ? ct * 16 + gid + 8 * (p >> 1) : ct * 16 + 2 * tig + 8 * (p & 1) + e;
                v[e] = src.at(t, c);
            }
            pr[p] = (u32) f2h(v[0]) | ((u32) f2h(v[1]) << 16);
        }
        reinterpret_cast<uint4*>(dst)[((tt0 + tl) * CT + ct) * 32 + lane] = make_uint4(pr[0], pr[1], pr[2], pr[3]);
    }
}
#endif

// Dynamic shared memory: 2 * blockTokens * D bytes (codes of keys and values) for int formats, none for fp16.
extern "C" __global__ void __launch_bounds__(256) kv_pack(const long long* __restrict__ jobs, const float* __restrict__ kPass,
        const float* __restrict__ vPass, int kvHeads, int layer, long long regionBytes, int group, int blockTokens) {
    extern __shared__ unsigned char codes[];
    const long long* job = jobs + (size_t) blockIdx.x * JOB_WORDS;
    const int kvh = blockIdx.y, tid = threadIdx.x, kvDim = kvHeads * D;
    char* region = reinterpret_cast<char*>(job[0]) + ((long long) layer * kvHeads + kvh) * regionBytes;
    const int tokenInPage = (int) job[1];
    const size_t ringLayer = (size_t) layer * blockTokens * kvDim;
    Source ks = {kPass, reinterpret_cast<const float*>(job[5]) + ringLayer, job[2], job[3], job[4], kvDim, kvh * D};
    Source vs = ks;
    vs.pass = vPass;
    vs.ring = reinterpret_cast<const float*>(job[6]) + ringLayer;
    const int tt0 = tokenInPage / 16, tiles = blockTokens / 16;
#if KV_BITS == 16
    write_halves<false>(ks, region, tt0, tiles, tid, 256);
    write_halves<true>(vs, region + CODE_BYTES, tt0, tiles, tid, 256);
#else
    unsigned char* kc = codes;
    unsigned char* vc = codes + blockTokens * D;
    const int cg = min(group, D), groups = D / cg;
#if KEY_CHANNEL
    u16* kp = reinterpret_cast<u16*>(region + 2 * CODE_BYTES) + 2 * (tokenInPage / group) * D;
    for (int c = tid; c < D; c += 256) {
        const u32 w = quantize_group(ks, 0, c, 1, 0, blockTokens, kc);
        kp[2 * (c & ~1) + (c & 1)] = (u16) (w & 0xFFFF);     // {scale(c), scale(c+1)} of the pair
        kp[2 * (c & ~1) + 2 + (c & 1)] = (u16) (w >> 16);    // then {min(c), min(c+1)}
    }
#else
    u32* kp = reinterpret_cast<u32*>(region + 2 * CODE_BYTES) + tokenInPage * groups;
    for (int i = tid; i < blockTokens * groups; i += 256) kp[i] = quantize_group(ks, i / groups, (i % groups) * cg, 0, 1, cg, kc);
#endif
    u32* vp = reinterpret_cast<u32*>(region + 2 * CODE_BYTES + key_param_bytes(group)) + tokenInPage * groups;
    for (int i = tid; i < blockTokens * groups; i += 256) vp[i] = quantize_group(vs, i / groups, (i % groups) * cg, 0, 1, cg, vc);
    __syncthreads();
    write_words<false>(kc, region, tt0, tiles, tid, 256);
    write_words<true>(vc, region + CODE_BYTES, tt0, tiles, tid, 256);
#endif
}

// Copies pass rows into ring slots: rows [n][3] = pass row, ring K row address, ring V row address, both in layer
// 0's ring (the kernel adds the layer's offset). Grid n.
extern "C" __global__ void __launch_bounds__(128) kv_ring_store(const long long* __restrict__ rows, const float* __restrict__ kPass,
        const float* __restrict__ vPass, int kvDim, int layer, int blockTokens) {
    const long long* r = rows + 3 * (size_t) blockIdx.x;
    const size_t ringLayer = (size_t) layer * blockTokens * kvDim;
    float* rk = reinterpret_cast<float*>(r[1]) + ringLayer;
    float* rv = reinterpret_cast<float*>(r[2]) + ringLayer;
    for (int i = threadIdx.x; i < kvDim; i += 128) {
        rk[i] = kPass[(size_t) r[0] * kvDim + i];
        rv[i] = vPass[(size_t) r[0] * kvDim + i];
    }
}

// Fills x[0 .. n) with deterministic pseudo-random numbers of mean 0 and deviation ~sigma (sum of 4 uniforms), plus
// offset * (index % period == 0) so that some channels carry outliers, as keys do. For benchmarks and checks only.
extern "C" __global__ void kv_fill(float* __restrict__ x, long long n, u32 seed, float sigma, int period, float offset) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        u32 h = (u32) i * 0x9E3779B1u ^ (u32) (i >> 32) * 0x85EBCA77u ^ seed;
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            h ^= h >> 15;
            h *= 0x2C1B3C6Du;
            h ^= h >> 12;
            h *= 0x297A2D39u;
            h ^= h >> 15;
            s += (h >> 8) * (1.0f / 16777216.0f);
        }
        x[i] = (s - 2.0f) * 1.7320508f * sigma + (period > 0 && i % period == 0 ? offset : 0.0f);
    }
}
