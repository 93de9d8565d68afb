// variants: -DPROBE=0 | -DPROBE=1 | -DPROBE=2 | -DPROBE=3 | -DPROBE=4 | -DPROBE=5 | -DPROBE=6 | -DPROBE=7 | -DPROBE=8
// GPU hardware probes, launched by dev.bitcap.hw.GpuMemoryProbe and dev.bitcap.hw.TensorCoreProbe. One module per
// PROBE value, so that a probe the compiler or the device refuses fails alone:
//   0: memory bandwidth (read, write, copy; L2-resident read), pointer-chase latency, fp32 FMA throughput
//   1..4: mma.sync m16n8k16 fp16 / m16n8k16 bf16 / m16n8k32 e4m3 / m16n8k32 s8, fp32 (s32) accumulators in registers
//   5..8: wgmma.mma_async m64n256k16 fp16 / bf16, m64n256k32 e4m3 / s8, both operands from shared memory (sm_90a)
// Every compute kernel fills its operands either with ones (mode 0: each accumulator must end at K x iterations, which
// the host checks) or with pseudo-random values of magnitude 1/4..1 (mode 1: the realistic, power-hungry case that is
// timed), and records the SM clock (clock64) and the global timer over its run from thread 0 of block 0, so the
// clock the figures were reached at is measured rather than looked up.

#ifndef PROBE
#error "PROBE must be defined"
#endif

typedef unsigned long long u64;
typedef unsigned int u32;

__device__ __forceinline__ u64 global_timer() {
    u64 t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

__device__ __forceinline__ u32 mix(u32 x) {
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
    return x;
}

// Two 16-bit values of magnitude 0.25..1 (or 1.0 in mode 0): fp16 when bf == 0, bf16 otherwise.
__device__ __forceinline__ u32 pair16(u32 r, int mode, int bf) {
    if (mode == 0) return bf ? 0x3F803F80u : 0x3C003C00u;
    u32 out = 0;
    for (int h = 0; h < 2; h++) {
        u32 s = (r >> (15 * h)) & 0x7FFFu;
        u32 v = bf ? (((s >> 14) & 1u) << 15) | ((125u + ((s >> 13) & 1u)) << 7) | (s & 0x7Fu)
                   : (((s >> 14) & 1u) << 15) | ((13u + ((s >> 13) & 1u)) << 10) | (s & 0x3FFu);
        out |= v << (16 * h);
    }
    return out;
}

// Four 8-bit values: e4m3 of magnitude 0.25..0.94 (1.0 = 0x38 in mode 0), or s8 (any value; 1 in mode 0).
__device__ __forceinline__ u32 quad8(u32 r, int mode, int fp8) {
    if (mode == 0) return fp8 ? 0x38383838u : 0x01010101u;
    if (!fp8) return r;
    u32 out = 0;
    for (int q = 0; q < 4; q++) {
        u32 s = (r >> (8 * q)) & 0xFFu;
        out |= ((((s >> 7) & 1u) << 7) | ((5u + ((s >> 6) & 1u)) << 3) | (s & 7u)) << (8 * q);
    }
    return out;
}

__device__ __forceinline__ void clock_begin(u64* c, u64* g) {
    *c = clock64();
    *g = global_timer();
}

__device__ __forceinline__ void clock_end(u64 c0, u64 g0, u64* clocks) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        clocks[0] = clock64() - c0;
        clocks[1] = global_timer() - g0;
    }
}

#if PROBE == 0

// ---- bandwidth ----------------------------------------------------------------------------------------------------

// ld.global.cg: cached in L2 only, so the L1 does not serve the repeats. Volatile so that the reps loop re-reads.
__device__ __forceinline__ float4 load_cg(const float4* p) {
    float4 v;
    asm volatile("ld.global.cg.v4.f32 {%0,%1,%2,%3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "l"(p));
    return v;
}

// Reads n float4 (reps times over); the sum is stored only when it matches an impossible value, so the loads stay.
extern "C" __global__ void read_bw(const float4* __restrict__ a, long long n, int reps, int l2only, float* __restrict__ sink) {
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    const long long stride = (long long) gridDim.x * blockDim.x;
    for (int r = 0; r < reps; r++) {
        if (l2only) {
            #pragma unroll 4
            for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                float4 v = load_cg(a + i);
                acc.x += v.x; acc.y += v.y; acc.z += v.z; acc.w += v.w;
            }
        } else {
            #pragma unroll 4
            for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
                float4 v = a[i];
                acc.x += v.x; acc.y += v.y; acc.z += v.z; acc.w += v.w;
            }
        }
    }
    if (acc.x + acc.y + acc.z + acc.w == -1.2345e-30f) sink[0] = acc.x;
}

extern "C" __global__ void write_bw(float4* __restrict__ a, long long n, float v) {
    const long long stride = (long long) gridDim.x * blockDim.x;
    #pragma unroll 4
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) a[i] = make_float4(v, v, v, v);
}

extern "C" __global__ void copy_bw(const float4* __restrict__ a, float4* __restrict__ b, long long n) {
    const long long stride = (long long) gridDim.x * blockDim.x;
    #pragma unroll 4
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) b[i] = a[i];
}

// ---- latency ------------------------------------------------------------------------------------------------------

// A bijection on bits-bit integers (odd multiplies and xor-shifts are each invertible modulo 2^bits).
__device__ __forceinline__ u64 scramble(u64 x, int bits, u64 seed) {
    const u64 mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    const int s1 = bits / 2 > 0 ? bits / 2 : 1, s2 = bits / 3 > 0 ? bits / 3 : 1;
    x = (x ^ seed) & mask;
    x = (x * 0x9E3779B97F4A7C15ull) & mask;
    x ^= x >> s1;
    x = (x * 0xBF58476D1CE4E5B9ull) & mask;
    x ^= x >> s2;
    x = (x * 0x94D049BB133111EBull) & mask;
    x ^= x >> s1;
    return x;
}

// One cycle through all 2^bits slots of slotBytes each, in scrambled order: slot f(i) holds the address of slot
// f(i+1). Every slot is visited once per lap, in an order no stride predictor follows.
extern "C" __global__ void chase_init(u64* buf, int bits, int slotWords, u64 seed) {
    const u64 slots = 1ull << bits, stride = (u64) gridDim.x * blockDim.x;
    for (u64 i = (u64) blockIdx.x * blockDim.x + threadIdx.x; i < slots; i += stride) {
        u64 from = scramble(i, bits, seed), to = scramble((i + 1) & (slots - 1), bits, seed);
        buf[from * slotWords] = (u64) (buf + to * slotWords);
    }
}

// A global-space load (not a generic one) through L1 and L2; volatile so it stays between the clock reads.
__device__ __forceinline__ u64 load_next(u64 p) {
    u64 next;
    asm volatile("ld.global.ca.u64 %0, [%1];" : "=l"(next) : "l"(p));
    return next;
}

// One thread: warm dependent loads, then timed ones. out = {clock64 cycles, global-timer ns, final address}.
extern "C" __global__ void chase(const u64* start, long long warm, long long loads, u64* out) {
    u64 p = (u64) start;
    for (long long i = 0; i < warm; i++) p = load_next(p);
    u64 c0 = clock64(), g0 = global_timer();
    #pragma unroll 8
    for (long long i = 0; i < loads; i++) p = load_next(p);
    u64 c1 = clock64(), g1 = global_timer();
    out[0] = c1 - c0;
    out[1] = g1 - g0;
    out[2] = p;
}

// ---- fp32 FMA (CUDA cores) ----------------------------------------------------------------------------------------

// Eight independent FMA chains per thread; 2 FLOPs per FMA. x stays bounded: x*0.999 + 1e-3 converges to 1. The
// iteration loop is unrolled so that its counter and branch take a small share of the issue slots (without it, 3 of
// every 11 instructions were loop overhead and the probe reached only 8/11 of the FMA rate).
extern "C" __global__ void fma_fp32(int iters, float* __restrict__ sink, u64* __restrict__ clocks) {
    u64 c0, g0;
    clock_begin(&c0, &g0);
    float x[8];
    #pragma unroll
    for (int j = 0; j < 8; j++) x[j] = (float) (threadIdx.x + j) * 1e-3f;
    const float m = 0.999f, a = 1e-3f;
    #pragma unroll 16
    for (int i = 0; i < iters; i++) {
        #pragma unroll
        for (int j = 0; j < 8; j++) x[j] = __fmaf_rn(x[j], m, a);
    }
    float s = 0.f;
    #pragma unroll
    for (int j = 0; j < 8; j++) s += x[j];
    sink[(size_t) blockIdx.x * blockDim.x + threadIdx.x] = s;
    clock_end(c0, g0, clocks);
}

#elif PROBE >= 1 && PROBE <= 4

// ---- mma.sync: ILP independent accumulator chains per warp, operands in registers ----------------------------------

#define ILP 4
#if PROBE == 1
#define MMA_ASM "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#define ACC float
#define ACC_C "+f"
#define FILL(r, mode) pair16(r, mode, 0)
#elif PROBE == 2
#define MMA_ASM "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#define ACC float
#define ACC_C "+f"
#define FILL(r, mode) pair16(r, mode, 1)
#elif PROBE == 3
#define MMA_ASM "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#define ACC float
#define ACC_C "+f"
#define FILL(r, mode) quad8(r, mode, 1)
#else
#define MMA_ASM "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#define ACC int
#define ACC_C "+r"
#define FILL(r, mode) quad8(r, mode, 0)
#endif

// out[thread] = the sum of the thread's ILP x 4 accumulators (as float, or int bits for s8).
extern "C" __global__ void mma_probe(int iters, int mode, ACC* __restrict__ out, u64* __restrict__ clocks) {
    const u32 tid = blockIdx.x * blockDim.x + threadIdx.x;
    u32 a[ILP][4], b[ILP][2];
    ACC d[ILP][4];
    #pragma unroll
    for (int c = 0; c < ILP; c++) {
        #pragma unroll
        for (int j = 0; j < 4; j++) {
            a[c][j] = FILL(mix(tid * 64u + c * 8u + j), mode);
            d[c][j] = 0;
        }
        b[c][0] = FILL(mix(tid * 64u + c * 8u + 4u), mode);
        b[c][1] = FILL(mix(tid * 64u + c * 8u + 5u), mode);
    }
    u64 c0, g0;
    clock_begin(&c0, &g0);
    for (int i = 0; i < iters; i++) {
        #pragma unroll
        for (int c = 0; c < ILP; c++) {
            asm volatile(MMA_ASM : ACC_C(d[c][0]), ACC_C(d[c][1]), ACC_C(d[c][2]), ACC_C(d[c][3])
                         : "r"(a[c][0]), "r"(a[c][1]), "r"(a[c][2]), "r"(a[c][3]), "r"(b[c][0]), "r"(b[c][1]));
        }
    }
    ACC s = 0;
    #pragma unroll
    for (int c = 0; c < ILP; c++) s += d[c][0] + d[c][1] + d[c][2] + d[c][3];
    out[tid] = s;
    clock_end(c0, g0, clocks);
}

#elif PROBE >= 5 && PROBE <= 8

// ---- wgmma: one m64n256 accumulator tile per warpgroup, A and B from shared memory through descriptors -------------

#define WG_REGS "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}"
#define WG_OUT_F "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
#define WG_OUT_R "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]), "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]), "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]), "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]), "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]), "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]), "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]), "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]), "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
#define WG_SET_F "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3]), "=f"(d[4]), "=f"(d[5]), "=f"(d[6]), "=f"(d[7]), "=f"(d[8]), "=f"(d[9]), "=f"(d[10]), "=f"(d[11]), "=f"(d[12]), "=f"(d[13]), "=f"(d[14]), "=f"(d[15]), "=f"(d[16]), "=f"(d[17]), "=f"(d[18]), "=f"(d[19]), "=f"(d[20]), "=f"(d[21]), "=f"(d[22]), "=f"(d[23]), "=f"(d[24]), "=f"(d[25]), "=f"(d[26]), "=f"(d[27]), "=f"(d[28]), "=f"(d[29]), "=f"(d[30]), "=f"(d[31]), "=f"(d[32]), "=f"(d[33]), "=f"(d[34]), "=f"(d[35]), "=f"(d[36]), "=f"(d[37]), "=f"(d[38]), "=f"(d[39]), "=f"(d[40]), "=f"(d[41]), "=f"(d[42]), "=f"(d[43]), "=f"(d[44]), "=f"(d[45]), "=f"(d[46]), "=f"(d[47]), "=f"(d[48]), "=f"(d[49]), "=f"(d[50]), "=f"(d[51]), "=f"(d[52]), "=f"(d[53]), "=f"(d[54]), "=f"(d[55]), "=f"(d[56]), "=f"(d[57]), "=f"(d[58]), "=f"(d[59]), "=f"(d[60]), "=f"(d[61]), "=f"(d[62]), "=f"(d[63]), "=f"(d[64]), "=f"(d[65]), "=f"(d[66]), "=f"(d[67]), "=f"(d[68]), "=f"(d[69]), "=f"(d[70]), "=f"(d[71]), "=f"(d[72]), "=f"(d[73]), "=f"(d[74]), "=f"(d[75]), "=f"(d[76]), "=f"(d[77]), "=f"(d[78]), "=f"(d[79]), "=f"(d[80]), "=f"(d[81]), "=f"(d[82]), "=f"(d[83]), "=f"(d[84]), "=f"(d[85]), "=f"(d[86]), "=f"(d[87]), "=f"(d[88]), "=f"(d[89]), "=f"(d[90]), "=f"(d[91]), "=f"(d[92]), "=f"(d[93]), "=f"(d[94]), "=f"(d[95]), "=f"(d[96]), "=f"(d[97]), "=f"(d[98]), "=f"(d[99]), "=f"(d[100]), "=f"(d[101]), "=f"(d[102]), "=f"(d[103]), "=f"(d[104]), "=f"(d[105]), "=f"(d[106]), "=f"(d[107]), "=f"(d[108]), "=f"(d[109]), "=f"(d[110]), "=f"(d[111]), "=f"(d[112]), "=f"(d[113]), "=f"(d[114]), "=f"(d[115]), "=f"(d[116]), "=f"(d[117]), "=f"(d[118]), "=f"(d[119]), "=f"(d[120]), "=f"(d[121]), "=f"(d[122]), "=f"(d[123]), "=f"(d[124]), "=f"(d[125]), "=f"(d[126]), "=f"(d[127])
#define WG_SET_R "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]), "=r"(d[4]), "=r"(d[5]), "=r"(d[6]), "=r"(d[7]), "=r"(d[8]), "=r"(d[9]), "=r"(d[10]), "=r"(d[11]), "=r"(d[12]), "=r"(d[13]), "=r"(d[14]), "=r"(d[15]), "=r"(d[16]), "=r"(d[17]), "=r"(d[18]), "=r"(d[19]), "=r"(d[20]), "=r"(d[21]), "=r"(d[22]), "=r"(d[23]), "=r"(d[24]), "=r"(d[25]), "=r"(d[26]), "=r"(d[27]), "=r"(d[28]), "=r"(d[29]), "=r"(d[30]), "=r"(d[31]), "=r"(d[32]), "=r"(d[33]), "=r"(d[34]), "=r"(d[35]), "=r"(d[36]), "=r"(d[37]), "=r"(d[38]), "=r"(d[39]), "=r"(d[40]), "=r"(d[41]), "=r"(d[42]), "=r"(d[43]), "=r"(d[44]), "=r"(d[45]), "=r"(d[46]), "=r"(d[47]), "=r"(d[48]), "=r"(d[49]), "=r"(d[50]), "=r"(d[51]), "=r"(d[52]), "=r"(d[53]), "=r"(d[54]), "=r"(d[55]), "=r"(d[56]), "=r"(d[57]), "=r"(d[58]), "=r"(d[59]), "=r"(d[60]), "=r"(d[61]), "=r"(d[62]), "=r"(d[63]), "=r"(d[64]), "=r"(d[65]), "=r"(d[66]), "=r"(d[67]), "=r"(d[68]), "=r"(d[69]), "=r"(d[70]), "=r"(d[71]), "=r"(d[72]), "=r"(d[73]), "=r"(d[74]), "=r"(d[75]), "=r"(d[76]), "=r"(d[77]), "=r"(d[78]), "=r"(d[79]), "=r"(d[80]), "=r"(d[81]), "=r"(d[82]), "=r"(d[83]), "=r"(d[84]), "=r"(d[85]), "=r"(d[86]), "=r"(d[87]), "=r"(d[88]), "=r"(d[89]), "=r"(d[90]), "=r"(d[91]), "=r"(d[92]), "=r"(d[93]), "=r"(d[94]), "=r"(d[95]), "=r"(d[96]), "=r"(d[97]), "=r"(d[98]), "=r"(d[99]), "=r"(d[100]), "=r"(d[101]), "=r"(d[102]), "=r"(d[103]), "=r"(d[104]), "=r"(d[105]), "=r"(d[106]), "=r"(d[107]), "=r"(d[108]), "=r"(d[109]), "=r"(d[110]), "=r"(d[111]), "=r"(d[112]), "=r"(d[113]), "=r"(d[114]), "=r"(d[115]), "=r"(d[116]), "=r"(d[117]), "=r"(d[118]), "=r"(d[119]), "=r"(d[120]), "=r"(d[121]), "=r"(d[122]), "=r"(d[123]), "=r"(d[124]), "=r"(d[125]), "=r"(d[126]), "=r"(d[127])

// scale-d is a predicate: 0 on the first wgmma (D = A.B, so the accumulators need no initialising instructions,
// which would make ptxas serialize the wgmma pipeline), 1 after (D += A.B).
#define WG_PRE "{.reg .pred p; setp.ne.b32 p, %130, 0; "

#if PROBE == 5
#define WG_ASM WG_PRE "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 " WG_REGS ", %128, %129, p, 1, 1, 0, 0;}"
#define WG_OUT WG_OUT_F
#define WG_SET WG_SET_F
#define ACC float
#define FILL(r, mode) pair16(r, mode, 0)
#elif PROBE == 6
#define WG_ASM WG_PRE "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 " WG_REGS ", %128, %129, p, 1, 1, 0, 0;}"
#define WG_OUT WG_OUT_F
#define WG_SET WG_SET_F
#define ACC float
#define FILL(r, mode) pair16(r, mode, 1)
#elif PROBE == 7
#define WG_ASM WG_PRE "wgmma.mma_async.sync.aligned.m64n256k32.f32.e4m3.e4m3 " WG_REGS ", %128, %129, p, 1, 1;}"
#define WG_OUT WG_OUT_F
#define WG_SET WG_SET_F
#define ACC float
#define FILL(r, mode) quad8(r, mode, 1)
#else
#define WG_ASM WG_PRE "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 " WG_REGS ", %128, %129, p;}"
#define WG_OUT WG_OUT_R
#define WG_SET WG_SET_R
#define ACC int
#define FILL(r, mode) quad8(r, mode, 0)
#endif

#define A_BYTES 2048 // 64 rows x 32 bytes of K (16 fp16/bf16 or 32 e4m3/s8)
#define B_BYTES 8192 // 256 rows x 32 bytes of K
#define WG_THREADS 256 // two warpgroups per block, one block per SM

// K-major, no swizzle: 8-row x 16-byte core matrices stored 128 bytes apart along K and 256 apart along M/N.
__device__ __forceinline__ u64 descriptor(u32 smemAddress) {
    const u64 lbo = 128, sbo = 256;
    return (u64) ((smemAddress & 0x3FFFF) >> 4) | ((lbo >> 4) << 16) | ((sbo >> 4) << 32);
}

// out[thread] = the sum of the thread's 128 accumulators (as float, or int bits for s8).
extern "C" __global__ void __launch_bounds__(WG_THREADS, 1) wgmma_probe(int iters, int mode, ACC* __restrict__ out, u64* __restrict__ clocks) {
    __shared__ __align__(128) u32 tiles[(A_BYTES + B_BYTES) / 4];
    for (int i = threadIdx.x; i < (A_BYTES + B_BYTES) / 4; i += blockDim.x) tiles[i] = FILL(mix(blockIdx.x * 4096u + i), mode);
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); // the async proxy (wgmma) reads what generic stores wrote
    __syncthreads();
    u64 shared;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(shared) : "l"(tiles));
    const u32 base = (u32) shared;
    const u64 da = descriptor(base), db = descriptor(base + A_BYTES);
    ACC d[128]; // written first by the scale-d = 0 wgmma
    u64 c0, g0;
    clock_begin(&c0, &g0);
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
    asm volatile(WG_ASM : WG_SET : "l"(da), "l"(db), "n"(0));
    #pragma unroll 8
    for (int i = 1; i < iters; i++) asm volatile(WG_ASM : WG_OUT : "l"(da), "l"(db), "n"(1));
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" : WG_OUT :: "memory");
    ACC s = 0;
    #pragma unroll
    for (int j = 0; j < 128; j++) s += d[j];
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
    clock_end(c0, g0, clocks);
}

#endif
