# Peer figures for `bitcap hw` on the same GPU in the same run: PyTorch's own copy/read bandwidth and cuBLAS GEMM
# throughput (bf16, fp16, fp8 e4m3 via _scaled_mm, int8 via _int_mm), CUDA-event timed, best of 5.
import torch, time

def best(fn, runs=5):
    fn(); torch.cuda.synchronize()
    b = 1e9
    for _ in range(runs):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); e.synchronize()
        b = min(b, s.elapsed_time(e) / 1e3)
    return b

print("device", torch.cuda.get_device_name(0), "torch", torch.__version__, "cuda", torch.version.cuda)
n = (4 << 30) // 4
a = torch.zeros(n, dtype=torch.float32, device="cuda")
t = best(lambda: a.sum()); print(f"read (sum of 4 GiB fp32): {4*(1<<30)/t/1e9:.1f} GB/s")
t = best(lambda: a.fill_(1.0)); print(f"write (fill of 4 GiB): {4*(1<<30)/t/1e9:.1f} GB/s")
h = a[: n // 2]; o = a[n // 2:]
t = best(lambda: o.copy_(h)); print(f"copy (2 GiB to 2 GiB, both counted): {4*(1<<30)/t/1e9:.1f} GB/s")
del a, h, o
N = 8192
for dt in (torch.bfloat16, torch.float16):
    x = torch.randn(N, N, device="cuda", dtype=dt); y = torch.randn(N, N, device="cuda", dtype=dt)
    t = best(lambda: x @ y); print(f"gemm {dt} {N}^3: {2*N**3/t/1e12:.1f} TFLOP/s")
try:
    x = torch.randn(N, N, device="cuda").to(torch.float8_e4m3fn); y = torch.randn(N, N, device="cuda").to(torch.float8_e4m3fn).t()
    one = torch.ones((), device="cuda")
    t = best(lambda: torch._scaled_mm(x, y, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)); print(f"gemm fp8 e4m3 {N}^3: {2*N**3/t/1e12:.1f} TFLOP/s")
except Exception as ex:
    print("gemm fp8 failed:", str(ex).splitlines()[0])
try:
    x = torch.randint(-64, 64, (N, N), device="cuda", dtype=torch.int8); y = torch.randint(-64, 64, (N, N), device="cuda", dtype=torch.int8)
    t = best(lambda: torch._int_mm(x, y)); print(f"gemm int8 {N}^3: {2*N**3/t/1e12:.1f} TOP/s")
except Exception as ex:
    print("gemm int8 failed:", str(ex).splitlines()[0])
x = torch.randn(N, N, device="cuda"); y = torch.randn(N, N, device="cuda")
torch.backends.cuda.matmul.allow_tf32 = False
t = best(lambda: x @ y); print(f"gemm fp32 (no tf32) {N}^3: {2*N**3/t/1e12:.1f} TFLOP/s")
