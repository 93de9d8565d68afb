"""The packed KV cache the decode emulations (kv-folded-emulation.py, kv-folded-t-emulation.py) start from: fp16
scale and minimum per group as CudaKvLayout rounds them (minimum rounded down, scale up), keys per channel over
g-token blocks or per token over channel groups, values per token, and the codes packed into the MMA fragment order of
kv_attention.cu's write_words (words[tile][word][lane])."""
import numpy as np

f16 = np.float16


def mma_operands(a, b0, b1):
    """A (16x16) and B (16x8) of one m16n8k16 MMA from its per-lane fragments: a[lane][4] of (lo, hi) halves,
    b0/b1[lane] of (lo, hi); lane = 4 * group + thread-in-group, as the PTX ISA lays them out."""
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for r, (row, col) in enumerate([(g, 2*t), (g+8, 2*t), (g, 2*t+8), (g+8, 2*t+8)]):
            A[row, col], A[row, col+1] = float(a[lane][r][0]), float(a[lane][r][1])
        B[2*t, g], B[2*t+1, g] = float(b0[lane][0]), float(b0[lane][1])
        B[2*t+8, g], B[2*t+9, g] = float(b1[lane][0]), float(b1[lane][1])
    return A, B


def quant(x, levels):
    lo, hi = x.min(), x.max()
    mn = f16(lo)
    if float(mn) > lo: mn = np.nextafter(mn, f16(-np.inf))
    sc = f16((hi - float(mn)) / levels)
    if float(sc) < (hi - float(mn)) / levels: sc = np.nextafter(sc, f16(np.inf))
    codes = np.clip(np.floor((x - float(mn)) / float(sc) + 0.5), 0, levels).astype(int)
    return codes, sc, mn


class PackedCache:
    """Codes kc/vc [T][D], dequantized kdeq/vdeq, parameters kpar_ch[(block, c)], kpar_tok[t*G + j], vpar[t*G + j]
    (each (scale, min) in fp16), and the packed words kw_all/vw_all."""

    def __init__(self, K, V, D, BITS, KEY_CHANNEL, group):
        T = K.shape[0]
        levels = (1 << BITS) - 1
        cg = min(group, D); G = D // cg
        self.kc = np.zeros((T, D), int); self.vc = np.zeros((T, D), int)
        self.kdeq = np.zeros((T, D)); self.vdeq = np.zeros((T, D))
        self.kpar_ch = {}; self.kpar_tok = {}; self.vpar = {}
        if KEY_CHANNEL:
            for jb in range(T // group):
                for c in range(D):
                    codes, sc, mn = quant(K[jb*group:(jb+1)*group, c], levels); self.kc[jb*group:(jb+1)*group, c] = codes
                    self.kdeq[jb*group:(jb+1)*group, c] = codes * float(sc) + float(mn); self.kpar_ch[(jb, c)] = (sc, mn)
        else:
            for t in range(T):
                for j in range(G):
                    codes, sc, mn = quant(K[t, j*cg:(j+1)*cg], levels); self.kc[t, j*cg:(j+1)*cg] = codes
                    self.kdeq[t, j*cg:(j+1)*cg] = codes * float(sc) + float(mn); self.kpar_tok[t*G + j] = (sc, mn)
        for t in range(T):
            for j in range(G):
                codes, sc, mn = quant(V[t, j*cg:(j+1)*cg], levels); self.vc[t, j*cg:(j+1)*cg] = codes
                self.vdeq[t, j*cg:(j+1)*cg] = codes * float(sc) + float(mn); self.vpar[t*G + j] = (sc, mn)
        CT = D // 16
        self.words = CT if BITS == 4 else CT // 2
        self.kw_all, self.vw_all = self._pack(self.kc, False, T, BITS), self._pack(self.vc, True, T, BITS)

    def _pack(self, codes, value, T, BITS):  # words[tt][w][lane] as write_words stores them
        out = np.zeros((T // 16, self.words, 32), np.uint64)
        for tl in range(T // 16):
            for w in range(self.words):
                for lane in range(32):
                    gid, tig = lane >> 2, lane & 3; word = 0
                    for s in range(1 if BITS == 4 else 2):
                        ct = w if BITS == 4 else 2 * w + s
                        for p in range(4):
                            for e in range(2):
                                t = tl*16 + 2*tig + 8*(p & 1) + e if value else tl*16 + gid + 8*(p >> 1)
                                c = ct*16 + gid + 8*(p >> 1) if value else ct*16 + 2*tig + 8*(p & 1) + e
                                sh = 4*(p + 4*e) if BITS == 4 else 2*(p + 4*s) + 16*e
                                word |= int(codes[t, c]) << sh
                    out[tl, w, lane] = word
        return out
