"""Emulates one warp step of gemv_tc_1 (gemv_packed.cu) with numpy, lane by lane, using the mma.m16n8k16 fragment
layout (A: a[0] = (row g, k 2t..2t+1), a[1] = (g+8, 2t..), a[2] = (g, 2t+8..), a[3] = (g+8, 2t+8..); B: b0b1 = (k 2t..2t+1,
col g), b2b3 = (k 2t+8.., col g); C: c0 c1 = (row g, cols 2t, 2t+1), c2 c3 = (row g+8, ..)), and checks that the
k orders of the A registers (codes from the packed units) and of the activation slots agree: the step's sum c·x per row
must equal the direct one. Run: python3 bench/gemv-tc-emulate.py (prints OK or the first mismatch)."""
import numpy as np

rng = np.random.default_rng(5)
rows, units = 16, 4                       # one tile, one step of 4 units
codes = rng.integers(0, 16, size=(rows, units * 32))
x = rng.standard_normal(units * 32).astype(np.float32)

# PackedCodes layout, 4 bits: a unit is 16 bytes, byte k = c_k | c_{k+16} << 4
packed = np.zeros((rows, units, 16), dtype=np.uint32)
for r in range(rows):
    for u in range(units):
        for k in range(16):
            packed[r, u, k] = codes[r, u * 32 + k] | (codes[r, u * 32 + k + 16] << 4)
words = np.zeros((rows, units, 4), dtype=np.uint64)
for i in range(4):
    words[:, :, i] = packed[:, :, 4 * i] | (packed[:, :, 4 * i + 1] << 8) | (packed[:, :, 4 * i + 2] << 16) | (packed[:, :, 4 * i + 3] << 24)

def pair(word, shift):  # tc_pair: the two codes at bits shift and shift + 16, as (low half, high half)
    c = (int(word) >> shift) & 0x000F000F
    return (c & 0xFFFF, c >> 16)

def slot(u, k, h):      # the activation slot of (unit, k, h): (c0, c2), (c1, c3) of columns 4k + 16h + c
    b = u * 32 + 4 * k + 16 * h
    return ((x[b + 0], x[b + 2]), (x[b + 1], x[b + 3]))

acc = np.zeros((rows, 8))
for k in range(4):
    for h in range(2):
        A = np.zeros((16, 16)); B = np.zeros((16, 8))
        for lane in range(32):
            g, t = lane // 4, lane % 4
            wa, wb = words[g, t, k], words[g + 8, t, k]        # lane t's unit of rows g and g + 8
            a = [pair(wa, 4 * h), pair(wb, 4 * h), pair(wa, 4 * h + 8), pair(wb, 4 * h + 8)]
            for reg, (rr, kk) in enumerate([(g, 2 * t), (g + 8, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t + 8)]):
                A[rr, kk], A[rr, kk + 1] = a[reg]
            if g == 0:                                          # batch column 0 only
                (b0, b1), (b2, b3) = slot(t, k, h)
                B[2 * t, 0], B[2 * t + 1, 0], B[2 * t + 8, 0], B[2 * t + 9, 0] = b0, b1, b2, b3
        acc += A @ B
want = codes[:, :units * 32].astype(np.float64) @ x.astype(np.float64)
got = acc[:, 0]
# c[0] of lane (g, 0) is row g, c[2] row g + 8: the whole column 0 of the C tile
err = np.max(np.abs(got - want)) / np.max(np.abs(want))
print("OK" if err < 1e-9 else "MISMATCH", "max rel err", err)
