# Lane-level emulation of kv_attention.cu's kv_decode_folded (one warp over one 128-token page region, 4 query
# heads on the MMA rows) against float64 attention over the dequantized cache: packs codes in the fragment order of
# write_words, then follows the kernel lane by lane (fp16 roundings with numpy.float16, mma.m16n8k16 through its
# fragment layout). It checks the folded kernel's index and algebra, not the CUDA code itself.
# Usage: python3 scripts/kv-folded-emulation.py HEAD_DIM BITS KEY_CHANNEL(0|1) GROUP [SEED]
import numpy as np, sys
from kv_emulation_cache import PackedCache, mma_operands
f16 = np.float16
rng = np.random.default_rng(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
D, BITS, KEY_CHANNEL, group = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
T = 128; CT = D // 16
cg = min(group, D); G = D // cg; ctPer = cg // 16
gq = 4
K = rng.normal(size=(T, D)); K[:, 3] += 4
V = rng.normal(size=(T, D))
q = (0.5 * rng.normal(size=(16, D))); q[gq:] = 0
qh = q.astype(f16)

cache = PackedCache(K, V, D, BITS, KEY_CHANNEL, group)
kdeq, vdeq = cache.kdeq, cache.vdeq
kpar_ch, kpar_tok, vpar = cache.kpar_ch, cache.kpar_tok, cache.vpar  # (jb, c) / t*G + j -> (scale, min)
kw_all, vw_all = cache.kw_all, cache.vw_all

def word_of(words, ct):
    return words[ct] if BITS == 4 else (words[ct // 2] >> (8 * (ct & 1)))
def exact_codes(w, p):  # -> (lo, hi) fp16 integers
    if BITS == 4: c = (w >> (4*p)) & 0x000F000F
    else: c = (w >> (2*p)) & 0x00030003
    return (f16(c & 0xFFFF), f16(c >> 16))

def mma(c, a, b0, b1):  # c[lane][4], a[lane][4] of (lo,hi), b0/b1[lane] of (lo,hi)
    A, B = mma_operands(a, b0, b1)
    Dm = A @ B
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        c[lane][0] += Dm[g, 2*t]; c[lane][1] += Dm[g, 2*t+1]; c[lane][2] += Dm[g+8, 2*t]; c[lane][3] += Dm[g+8, 2*t+1]

qf = np.zeros((16, D), f16)
scaleLog2 = 1 / np.sqrt(D) / np.log(2)
o = np.zeros((32, CT*8)); m = np.full((32, 2), -np.inf); l = np.zeros((32, 2))
vbias = np.zeros((32, G, 2)); kbias = np.zeros((32, 2))
def quad_sum(x):  # x[lane] -> sum over the lane's quad
    return np.array([x[(ln & ~3):(ln & ~3) + 4].sum(axis=0) for ln in range(32)])
qsum = np.zeros((32, G, 2))
if not KEY_CHANNEL:
    part = np.zeros((32, G, 2))
    for lane in range(32):
        gid, tig = lane >> 2, lane & 3
        for j in range(G):
            for ct in range(j*ctPer, (j+1)*ctPer):
                for c in (ct*16 + 2*tig, ct*16 + 2*tig + 1, ct*16 + 8 + 2*tig, ct*16 + 9 + 2*tig):
                    part[lane, j, 0] += float(qh[gid, c]); part[lane, j, 1] += float(qh[gid+8, c])
    qsum = quad_sum(part)
for t0 in range(0, T, 16):
    tt = t0 // 16
    if KEY_CHANNEL and (t0 == 0 or t0 % group == 0):
        b = np.zeros((32, 2))
        for lane in range(32):
            gid, tig = lane >> 2, lane & 3; jb = tt*16 // group
            for ct in range(CT):
                for half in range(2):
                    c = ct*16 + 8*half + 2*tig
                    (s0, m0), (s1, m1) = kpar_ch[(jb, c)], kpar_ch[(jb, c+1)]
                    qf[gid, c], qf[gid, c+1] = f16(qh[gid, c] * s0), f16(qh[gid, c+1] * s1)
                    qf[gid+8, c], qf[gid+8, c+1] = f16(qh[gid+8, c] * s0), f16(qh[gid+8, c+1] * s1)
                    b[lane, 0] += float(qh[gid, c]) * float(m0) + float(qh[gid, c+1]) * float(m1)
                    b[lane, 1] += float(qh[gid+8, c]) * float(m0) + float(qh[gid+8, c+1]) * float(m1)
        kbias = quad_sum(b)
    s = np.zeros((32, 2, 4))
    def afrag(src, ct):
        out = []
        for lane in range(32):
            gid, tig = lane >> 2, lane & 3
            out.append([(src[r, c], src[r, c+1]) for r, c in [(gid, ct*16+2*tig), (gid+8, ct*16+2*tig), (gid, ct*16+8+2*tig), (gid+8, ct*16+8+2*tig)]])
        return out
    def bfr(words, ct, p):
        return [exact_codes(int(word_of(words[:, lane], ct)), p) for lane in range(32)]
    kws, vws = kw_all[tt], vw_all[tt]
    if KEY_CHANNEL:
        for ct in range(CT):
            a = afrag(qf, ct)
            c0 = s[:, 0, :]; c1 = s[:, 1, :]
            mma(c0, a, bfr(kws, ct, 0), bfr(kws, ct, 1)); mma(c1, a, bfr(kws, ct, 2), bfr(kws, ct, 3))
        for i in range(4):
            s[:, 0, i] += kbias[:, i >> 1]; s[:, 1, i] += kbias[:, i >> 1]
    else:
        for j in range(G):
            part = np.zeros((32, 2, 4))
            for ct in range(CT):
                if ct // ctPer != j: continue
                a = afrag(qh, ct)
                mma(part[:, 0, :], a, bfr(kws, ct, 0), bfr(kws, ct, 1)); mma(part[:, 1, :], a, bfr(kws, ct, 2), bfr(kws, ct, 3))
            for lane in range(32):
                tig = lane & 3
                tok = [tt*16 + 2*tig, tt*16 + 2*tig + 1, tt*16 + 2*tig + 8, tt*16 + 2*tig + 9]
                for nt in range(2):
                    for i in range(4):
                        sc, mn = kpar_tok[tok[2*nt + (i & 1)] * G + j]
                        s[lane, nt, i] += float(sc) * part[lane, nt, i] + float(mn) * qsum[lane, j, i >> 1]
    s *= scaleLog2
    mx = np.maximum(s[:, :, [0, 1]].max(axis=(1, 2)), -np.inf), s[:, :, [2, 3]].max(axis=(1, 2))
    mx = np.stack(mx, axis=1)
    for lane in range(32):
        base = lane & ~3
        mx[lane] = mx[base:base+4].max(axis=0)
    mNew = np.maximum(m, mx); corr = np.exp2(m - mNew); m = mNew; l *= corr
    for nt in range(2):
        for i in range(4):
            e = np.exp2(s[:, nt, i] - m[:, i >> 1]); s[:, nt, i] = e; l[:, i >> 1] += e
    for i in range(CT*8): o[:, i] *= corr[:, (i >> 1) & 1]
    vbias *= corr[:, None, :]
    for j in range(G):
        pa = []
        for lane in range(32):
            tig = lane & 3
            tok = [tt*16 + 2*tig, tt*16 + 2*tig + 1, tt*16 + 2*tig + 8, tt*16 + 2*tig + 9]
            sc = [float(vpar[tk*G + j][0]) for tk in tok]; mn = [float(vpar[tk*G + j][1]) for tk in tok]
            S = s[lane]
            vbias[lane, j, 0] += S[0, 0]*mn[0] + S[0, 1]*mn[1] + S[1, 0]*mn[2] + S[1, 1]*mn[3]
            vbias[lane, j, 1] += S[0, 2]*mn[0] + S[0, 3]*mn[1] + S[1, 2]*mn[2] + S[1, 3]*mn[3]
            pa.append([(f16(S[0, 0]*sc[0]), f16(S[0, 1]*sc[1])), (f16(S[0, 2]*sc[0]), f16(S[0, 3]*sc[1])),
                       (f16(S[1, 0]*sc[2]), f16(S[1, 1]*sc[3])), (f16(S[1, 2]*sc[2]), f16(S[1, 3]*sc[3]))])
        for ct in range(CT):
            if ct // ctPer != j: continue
            mma(o[:, ct*8:ct*8+4], pa, bfr(vws, ct, 0), bfr(vws, ct, 1)); mma(o[:, ct*8+4:ct*8+8], pa, bfr(vws, ct, 2), bfr(vws, ct, 3))
vbias = quad_sum(vbias)
for ct in range(CT):
    j = ct // ctPer
    for i in range(8): o[:, ct*8 + i] += vbias[:, j, (i >> 1) & 1]
lq = quad_sum(l)
out = np.zeros((16, D))
for lane in range(32):
    gid, tig = lane >> 2, lane & 3
    for r in range(2):
        row = gid + 8*r
        for ct in range(CT):
            for nt in range(2):
                for e in range(2):
                    out[row, ct*16 + nt*8 + 2*tig + e] = o[lane, ct*8 + nt*4 + 2*r + e] / lq[lane, r]
sc = (q[:gq].astype(f16).astype(float) @ kdeq.T) / np.sqrt(D)
p = np.exp(sc - sc.max(axis=1, keepdims=True)); p /= p.sum(axis=1, keepdims=True)
ref = p @ vdeq
err = np.abs(out[:gq] - ref).max() / np.abs(vdeq).max()
print(f"D={D} bits={BITS} keyChannel={KEY_CHANNEL} g={group}: max rel err {err:.2e}")
