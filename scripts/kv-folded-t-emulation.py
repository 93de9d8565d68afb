# Lane-level emulation of kv_attention.cu's kv_decode_folded_t (attend_folded_t + write_cols: one warp over one packed
# split of T tokens, GQ query heads on the MMA's N columns, NT = 1 or 2 n-tiles) against float64 attention over the
# dequantized cache. Packs codes in the fragment order of write_words, then follows the kernel lane by lane: fp16
# roundings with numpy.float16, mma.m16n8k16 through the PTX ISA fragment tables (A: a0a1 (row gid, k 2tig), a2a3
# (row gid + 8, k 2tig), a4a5 (row gid, k 2tig + 8), a6a7 (row gid + 8, k 2tig + 8); B: b0b1 (k 2tig, n gid), b2b3
# (k 2tig + 8, n gid); C: c0c1 (row gid, n 2tig..), c2c3 (row gid + 8, n 2tig..)), movmatrix.m8n8.trans.b16 as
# "lane (gid, tig) holding (row gid, cols 2tig, 2tig + 1) gets (rows 2tig, 2tig + 1; col gid)". It checks the index
# logic and algebra of the transposed kernel, not the CUDA code itself.
# --acc: how the MMA accumulates: f64 (exact), rn (fp32, rounded to nearest after every product: pessimistic) or rz
# (fp32 truncated after every product: more pessimistic, as tensor cores are reported to truncate); --exact-keys
# turns the key offset (codes as 1024 + code, KVT_KEY_OFFSET) off.
# Usage: python3 scripts/kv-folded-t-emulation.py HEAD_DIM BITS KEY_CHANNEL(0|1) GROUP GQ [SEED] [--acc f64|rn|rz]
#        [--exact-keys] [--qscale X] [--tokens T] [--splits N]
import numpy as np, sys
from kv_emulation_cache import PackedCache, mma_operands
first = next((i for i, a in enumerate(sys.argv[1:]) if a.startswith('--')), len(sys.argv) - 1)
args, opts = sys.argv[1:1 + first], sys.argv[1 + first:]
def opt(name, default):
    return opts[opts.index(name) + 1] if name in opts else default
ACC = opt('--acc', 'f64'); KEY_OFFSET = '--exact-keys' not in opts
QSCALE = float(opt('--qscale', '0.5')); T = int(opt('--tokens', '256'))
f16 = np.float16
D, BITS, KEY_CHANNEL, group, GQ = (int(a) for a in args[:5])
rng = np.random.default_rng(int(args[5]) if len(args) > 5 else 1)
CT = D // 16
cg = min(group, D); G = D // cg; ctPer = cg // 16
NT = 1 if GQ <= 8 else 2
K = rng.normal(size=(T, D)); K[:, 3] += 4
V = rng.normal(size=(T, D))
q = QSCALE * rng.normal(size=(16, D)); q[GQ:] = 0
qh = q.astype(f16)  # qs: the query rows as fp16, rows past the group zero

cache = PackedCache(K, V, D, BITS, KEY_CHANNEL, group)  # the layout is the folded kernels' (write_words)
kdeq, vdeq = cache.kdeq, cache.vdeq
kpar_ch, kpar_tok, vpar = cache.kpar_ch, cache.kpar_tok, cache.vpar
kw_all, vw_all = cache.kw_all, cache.vw_all

def word_of(words, ct):
    return int(words[ct]) if BITS == 4 else (int(words[ct // 2]) >> (8 * (ct & 1)))
def codes_pair(w, p, offset):  # (lo, hi) fp16: exact_codes, or offset_codes (1024 + code)
    c = (w >> (4*p)) & 0x000F000F if BITS == 4 else (w >> (2*p)) & 0x00030003
    base = 1024 if offset else 0
    return (f16(base + (c & 0xFFFF)), f16(base + (c >> 16)))
def tile_a(words, ct, offset):  # per lane: pairs {0, 2, 1, 3} = A registers (key_tile_a / value_tile_a)
    return [[codes_pair(word_of(words[:, lane], ct), p, offset) for p in (0, 2, 1, 3)] for lane in range(32)]

def rnd32(x, mode):
    y = x.astype(np.float32).astype(np.float64)
    if mode == 'rz':
        over = np.abs(y) > np.abs(x)
        y = np.where(over, np.nextafter(y.astype(np.float32), np.float32(0)).astype(np.float64), y)
    return y

def mma(c, a, b0, b1):  # c[lane][4] (updated in place), a[lane][4] of (lo, hi), b0/b1[lane] of (lo, hi)
    A, B = mma_operands(a, b0, b1)
    C = np.zeros((16, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        C[g, 2*t], C[g, 2*t+1], C[g+8, 2*t], C[g+8, 2*t+1] = c[lane][0], c[lane][1], c[lane][2], c[lane][3]
    if ACC == 'f64':
        Dm = C + A @ B
    else:  # products are exact; every partial sum rounded to fp32
        Dm = rnd32(C, ACC)
        for k in range(16):
            Dm = rnd32(Dm + np.outer(A[:, k], B[k, :]), ACC)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        c[lane][0], c[lane][1], c[lane][2], c[lane][3] = Dm[g, 2*t], Dm[g, 2*t+1], Dm[g+8, 2*t], Dm[g+8, 2*t+1]

def movmatrix(x):  # x[lane] = (lo, hi): (row gid, cols 2tig, 2tig + 1) -> (rows 2tig, 2tig + 1; col gid)
    M = np.zeros((8, 8), f16)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        M[g, 2*t], M[g, 2*t+1] = x[lane]
    return [(M[2*(lane & 3), lane >> 2], M[2*(lane & 3) + 1, lane >> 2]) for lane in range(32)]

def shfl(v, src):  # v[lane] -> v[src(lane)]
    return np.array([v[src(lane)] for lane in range(32)])
def xor_sum(v, masks):
    for mk in masks: v = v + shfl(v, lambda ln: ln ^ mk)
    return v
def col_head(v, e):  # from the lanes whose gid is head 2tig + e
    return shfl(v, lambda ln: 8 * (ln & 3) + 4 * e)
lo_f = lambda h: float(h[0]); hi_f = lambda h: float(h[1])

scaleLog2 = 1 / np.sqrt(D) / np.log(2)
def run_split(start, end):  # attend_folded_t + write_cols over tokens [start, end): (out rows, stats m, stats l)
    global qb
    o = np.zeros((32, CT, NT, 4)); m = np.full((32, NT, 2), -np.inf); l = np.zeros((32, NT, 2))
    vbias = np.zeros((32, G, NT, 2))
    qb = [[[None, None] for _ in range(CT)] for _ in range(NT)]  # qb[nt][ct][h][lane] = (lo, hi)
    def qpair(src, lane, nt, ct, h):
        gid, tig = lane >> 2, lane & 3; c = ct*16 + 8*h + 2*tig
        return (src[8*nt + gid, c], src[8*nt + gid, c + 1])
    if not KEY_CHANNEL:
        for nt in range(NT):
            for ct in range(CT):
                for h in range(2): qb[nt][ct][h] = [qpair(qh, ln, nt, ct, h) for ln in range(32)]
        qsum = np.zeros((32, G, NT, 2))
        for j in range(G):
            for nt in range(NT):
                a = np.zeros(32)
                for ct in range(CT):
                    if ct // ctPer != j: continue
                    for h in range(2): a += np.array([lo_f(x) + hi_f(x) for x in qb[nt][ct][h]])
                a = xor_sum(a, (1, 2))
                qsum[:, j, nt, 0], qsum[:, j, nt, 1] = col_head(a, 0), col_head(a, 1)
    kb = np.zeros((32, NT, 2))
    for t0 in range(start, end, 16):
        tt = t0 // 16
        kws, vws = kw_all[tt], vw_all[tt]
        s = np.zeros((32, NT, 4))
        if KEY_CHANNEL:
            if t0 == start or t0 % group == 0:
                jb = t0 // group
                b = np.zeros((32, NT)); z = np.zeros((32, NT))
                for ct in range(CT):
                    for h in range(2):
                        for nt in range(NT):
                            vals = []
                            for lane in range(32):
                                tig = lane & 3; c = ct*16 + 8*h + 2*tig
                                (s0, m0), (s1, m1) = kpar_ch[(jb, c)], kpar_ch[(jb, c + 1)]
                                qv = qpair(qh, lane, nt, ct, h)
                                f = (f16(qv[0] * s0), f16(qv[1] * s1))  # hmul2: fp16 product rounded once
                                vals.append(f)
                                b[lane, nt] += float(qv[0]) * float(m0) + float(qv[1]) * float(m1)
                                z[lane, nt] += float(f[0]) + float(f[1])
                            qb[nt][ct][h] = vals
                for nt in range(NT):
                    bb = xor_sum(b[:, nt], (1, 2)); zz = xor_sum(z[:, nt], (1, 2))
                    v = bb - 1024 * zz if KEY_OFFSET else bb
                    kb[:, nt, 0], kb[:, nt, 1] = col_head(v, 0), col_head(v, 1)
            for nt in range(NT):
                s[:, nt, 0] = s[:, nt, 2] = kb[:, nt, 0]; s[:, nt, 1] = s[:, nt, 3] = kb[:, nt, 1]
            for ct in range(CT):
                a = tile_a(kws, ct, KEY_OFFSET)
                for nt in range(NT): mma(s[:, nt, :], a, qb[nt][ct][0], qb[nt][ct][1])
        else:
            for j in range(G):
                part = np.zeros((32, NT, 4))
                for ct in range(CT):
                    if ct // ctPer != j: continue
                    a = tile_a(kws, ct, KEY_OFFSET)
                    for nt in range(NT): mma(part[:, nt, :], a, qb[nt][ct][0], qb[nt][ct][1])
                for lane in range(32):
                    gid = lane >> 2
                    pr = [kpar_tok[(t0 + gid) * G + j], kpar_tok[(t0 + gid + 8) * G + j]]
                    sc = [float(pr[0][0]), float(pr[1][0])]
                    mn = [float(pr[i][1]) - (1024 * sc[i] if KEY_OFFSET else 0) for i in range(2)]
                    for nt in range(NT):
                        for i in range(4):
                            s[lane, nt, i] += sc[i >> 1] * part[lane, nt, i] + mn[i >> 1] * qsum[lane, j, nt, i & 1]
        corr = np.zeros((32, NT, 2))
        for nt in range(NT):
            for e in range(2):
                x = np.maximum(s[:, nt, e], s[:, nt, 2 + e])
                for mk in (4, 8, 16): x = np.maximum(x, shfl(x, lambda ln: ln ^ mk))
                mNew = np.maximum(m[:, nt, e], x)
                corr[:, nt, e] = np.exp2((m[:, nt, e] - mNew) * scaleLog2)
                m[:, nt, e] = mNew
                ms = mNew * scaleLog2
                s[:, nt, e] = np.exp2(s[:, nt, e] * scaleLog2 - ms); s[:, nt, 2 + e] = np.exp2(s[:, nt, 2 + e] * scaleLog2 - ms)
                l[:, nt, e] = l[:, nt, e] * corr[:, nt, e] + s[:, nt, e] + s[:, nt, 2 + e]
        for i in range(4): o[:, :, :, i] *= corr[:, None, :, i & 1]
        vbias *= corr[:, None, :, :]
        for j in range(G):
            pb = [[None, None] for _ in range(NT)]
            sc0 = np.array([float(vpar[(t0 + (ln >> 2)) * G + j][0]) for ln in range(32)])
            mn0 = np.array([float(vpar[(t0 + (ln >> 2)) * G + j][1]) for ln in range(32)])
            sc1 = np.array([float(vpar[(t0 + (ln >> 2) + 8) * G + j][0]) for ln in range(32)])
            mn1 = np.array([float(vpar[(t0 + (ln >> 2) + 8) * G + j][1]) for ln in range(32)])
            for nt in range(NT):
                vbias[:, j, nt, 0] += s[:, nt, 0] * mn0 + s[:, nt, 2] * mn1
                vbias[:, j, nt, 1] += s[:, nt, 1] * mn0 + s[:, nt, 3] * mn1
                pb[nt][0] = movmatrix([(f16(s[ln, nt, 0] * sc0[ln]), f16(s[ln, nt, 1] * sc0[ln])) for ln in range(32)])
                pb[nt][1] = movmatrix([(f16(s[ln, nt, 2] * sc1[ln]), f16(s[ln, nt, 3] * sc1[ln])) for ln in range(32)])
            for ct in range(CT):
                if ct // ctPer != j: continue
                a = tile_a(vws, ct, False)
                for nt in range(NT): mma(o[:, ct, nt, :], a, pb[nt][0], pb[nt][1])
    for j in range(G):
        for nt in range(NT):
            for e in range(2): vbias[:, j, nt, e] = xor_sum(vbias[:, j, nt, e], (4, 8, 16))
    for ct in range(CT):
        for i in range(4): o[:, ct, :, i] += vbias[:, ct // ctPer, :, i & 1]
    # write_cols
    for nt in range(NT):
        for e in range(2): l[:, nt, e] = xor_sum(l[:, nt, e], (4, 8, 16))
    out = np.full((16, D), np.nan); stat_m = np.full(16, np.nan); stat_l = np.full(16, np.nan)
    for lane in range(32):
        gid, tig = lane >> 2, lane & 3
        for nt in range(NT):
            for e in range(2):
                head = 8*nt + 2*tig + e
                if head >= GQ: continue
                for ct in range(CT):
                    out[head, ct*16 + gid] = o[lane, ct, nt, e]; out[head, ct*16 + gid + 8] = o[lane, ct, nt, 2 + e]
                if gid == 0: stat_m[head] = m[lane, nt, e] * scaleLog2; stat_l[head] = l[lane, nt, e]
    return out, stat_m, stat_l
# kv_combine over the splits (chunks of T / SPLITS tokens, multiples of 32 as the plan makes them)
SPLITS = int(opt('--splits', '1')); chunk = T // SPLITS
assert chunk % 32 == 0 and T % group == 0, 'splits of whole 32-token steps, whole g-blocks'
parts = [run_split(i * chunk, T if i == SPLITS - 1 else (i + 1) * chunk) for i in range(SPLITS)]
M = np.max([pm[:GQ] for _, pm, _ in parts], axis=0)
num = sum(np.exp2(pm[:GQ] - M)[:, None] * po[:GQ] for po, pm, _ in parts)
den = sum(np.exp2(pm[:GQ] - M) * pl[:GQ] for _, pm, pl in parts)
res = num / den[:, None]
sc = (qh[:GQ].astype(float) @ kdeq.T) / np.sqrt(D)
p = np.exp(sc - sc.max(axis=1, keepdims=True)); lse2 = (np.log(np.exp(sc - sc.max(axis=1, keepdims=True)).sum(axis=1)) + sc.max(axis=1)) / np.log(2)
p /= p.sum(axis=1, keepdims=True)
ref = p @ vdeq
assert not np.isnan(res).any(), "a head's output was not written"
err = np.abs(res - ref).max() / np.abs(vdeq).max()
lse_err = np.abs(np.log2(den) + M - lse2).max()  # the merged log-sum-exp (base 2)
mass = max((np.abs(qh[h].astype(float)) * np.abs(K[t])).sum() / np.sqrt(D) for h in range(GQ) for t in range(0, T, 7))
tol = 2**-11 * (2 + 4 * mass)
print(f"D={D} bits={BITS} keyChannel={KEY_CHANNEL} g={group} gq={GQ} NT={NT} acc={ACC} keyOffset={int(KEY_OFFSET)} T={T} splits={SPLITS}: "
      f"max rel err {err:.2e} (check bound ~{tol:.1e}), log2-sum-exp err {lse_err:.1e}{'' if err <= tol else '  FAIL'}")
