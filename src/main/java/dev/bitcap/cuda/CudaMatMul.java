package dev.bitcap.cuda;

import dev.bitcap.BitcapException;
import dev.bitcap.tensor.DType;
import java.util.List;

/**
 * Y [n, rows] = X [n, cols] · Wᵀ on the device, X and Y fp32. Few rows of X (decode) run a GEMV kernel: packed
 * weights the staged kernels of {@code gemv_packed.cu} (activations in shared memory, each weight read once for up to
 * eight activation rows), Q8_0 / Q4_0 with whole 256-column rows and up to four activation rows the staged kernels
 * of {@code gemv.cu}, everything else its {@code gemv} kernel, which reads each weight row once for up to four rows; many rows (prefill) with F32,
 * F16 or BF16 weights go to cuBLAS GemmEx (packed and binary weights after a dequantization to fp16) with fp32
 * accumulation, the activations rounded to the weight type first for 16-bit weights (so prefill products carry
 * bf16/fp16 input rounding that decode does not).
 */
public final class CudaMatMul {
    /** From this many activation rows on, dense float weights use cuBLAS. */
    public static final int CUBLAS_MIN_ROWS = 16;

    private final CudaDevice device;
    private final CudaOps ops;
    private final CudaModule[] modules = new CudaModule[10]; // per WTYPE, then the same with ACCUMULATE
    private final java.util.Map<String, CudaModule> packedModules = new java.util.HashMap<>();
    private long scratch;
    private long scratchBytes;
    private long dequant, dequantBytes;
    private boolean useCublas = true;

    public CudaMatMul(CudaDevice device, CudaOps ops) {
        this.device = device;
        this.ops = ops;
    }

    /** The WTYPE define of gemv.cu for a dtype, or -1 when there is no kernel for it. */
    static int weightType(DType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            case Q8_0 -> 3;
            case Q4_0 -> 4;
            default -> -1;
        };
    }

    /** Off: every product runs the GEMV kernel (the check command compares both ways). */
    public void setCublas(boolean on) {
        this.useCublas = on;
    }

    public void matmul(DeviceMatrix w, long x, long y, int n) {
        if (useCublas && n >= CUBLAS_MIN_ROWS && (w.type().isFloat() || w.packed() != null || w.binary() != null)) {
            cublas(w, x, y, n);
        } else {
            gemv(w, x, y, n);
        }
    }

    /**
     * y [n, rows] += X · Wᵀ: the GEMV kernels add their sums into y in their final write (ACCUMULATE), one write per
     * element, so the result is what matmul into a scratch row and {@link CudaOps#add} give, bit for bit; the cuBLAS
     * path (n &gt;= {@link #CUBLAS_MIN_ROWS}) runs exactly that, through {@code scratch} ([n, rows] floats).
     */
    public void matmulAdd(DeviceMatrix w, long x, long y, int n, long scratch) {
        if (useCublas && n >= CUBLAS_MIN_ROWS && (w.type().isFloat() || w.packed() != null || w.binary() != null)) {
            cublas(w, x, scratch, n);
            ops.add(y, scratch, (long) n * w.rows());
            return;
        }
        accumulate = true;
        try {
            gemv(w, x, y, n);
        } finally {
            accumulate = false;
        }
    }

    /** Set while {@link #matmulAdd} runs a GEMV: the modules compiled with ACCUMULATE are used. */
    private boolean accumulate;

    private List<String> withAccumulate(List<String> defines) {
        if (!accumulate) return defines;
        List<String> all = new java.util.ArrayList<>(defines);
        all.add("ACCUMULATE=1");
        return all;
    }

    /** The GEMV kernel, whatever n. */
    public void gemv(DeviceMatrix w, long x, long y, int n) {
        if (w.packed() != null) {
            packedGemv(w, x, y, n);
            return;
        }
        if (w.binary() != null) {
            binaryGemv(w, x, y, n);
            return;
        }
        int wt = weightType(w.type());
        int slot = wt + (accumulate ? 5 : 0);
        CudaModule m = modules[slot];
        if (m == null) m = modules[slot] = device.module("gemv.cu", withAccumulate(List.of("WTYPE=" + wt)));
        if ((w.type() == DType.Q8_0 || w.type() == DType.Q4_0) && tuning.staged() && w.cols() % 256 == 0 && n <= 4) {
            stagedGgml(m, w, x, y, n);
            return;
        }
        boolean vec = w.cols() % 8 == 0;
        m.launch("gemv").ptr(w.pointer()).ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(n).l(w.rowBytes()).i(vec ? 1 : 0)
                .run((w.rows() + 7) / 8, (n + 3) / 4, 1, 256, 0);
    }

    /**
     * How packed (and Q8_0 / Q4_0) GEMVs run: {@code staged} picks gemv_staged_* / gemv_ggml_staged_* (activations
     * staged in shared memory, slabs of columns across blocks) over the older gemv_packed_1/4 / gemv; {@code rowsPerWarp1} overrides the weight rows per warp
     * of gemv_staged_1 (0: the kernel's default, see {@link #stagedRows1}); the column slabs are sized so that about
     * {@code blocksPerSm} blocks per multiprocessor run (0: one slab per row where the shared memory allows);
     * {@code asyncStages} &gt; 0 runs n = 1 through the experimental gemv_async_1 with a cp.async ring of that many steps
     * (not measured yet, not a default); {@code variant} other than STAGED runs n &le; 4 through an opt-in kernel
     * ({@link Variant}; {@code depth}: its units per lane or ring steps, 0 for the kernel's default). The benchmark
     * compares settings; the defaults are the best.
     */
    public record PackedTuning(boolean staged, int rowsPerWarp1, int blocksPerSm, int asyncStages, Variant variant, int depth) {
        /** Without the opt-in decode variants. */
        public PackedTuning(boolean staged, int rowsPerWarp1, int blocksPerSm, int asyncStages) {
            this(staged, rowsPerWarp1, blocksPerSm, asyncStages, Variant.STAGED, 0);
        }

        /** Without the experimental cp.async ring (asyncStages 0). */
        public PackedTuning(boolean staged, int rowsPerWarp1, int blocksPerSm) {
            this(staged, rowsPerWarp1, blocksPerSm, 0);
        }

        /**
         * An opt-in decode variant for n &le; 4 ({@link Variant}); {@code depth} is the units per lane in flight (WIDE)
         * or the ring's steps (BULK), 0 for the kernel's default (4); {@code rowsPerWarp1} as above (0: the default).
         */
        public static PackedTuning of(Variant variant, int depth, int rowsPerWarp1, int blocksPerSm) {
            return new PackedTuning(true, rowsPerWarp1, blocksPerSm, 0, variant, depth);
        }

        /** The environment variable that picks a decode variant for every CudaMatMul of the process. */
        public static final String ENV = "BITCAP_GEMV_VARIANT";

        /** {@link #DEFAULT}, or the variant {@code $BITCAP_GEMV_VARIANT} names (see {@link #parse}). */
        public static PackedTuning fromEnvironment() {
            String v = System.getenv(ENV);
            return v == null || v.isBlank() ? DEFAULT : parse(v);
        }

        /**
         * {@code staged} (the default), {@code wide[:units]} (1-8 units per lane in flight), {@code bulk[:stages]} or
         * {@code persist[:stages]} or {@code tc[:stages]} (1-8 ring steps) or {@code async[:stages]}
         * (2-8, the cp.async ring of gemv_async_1);
         * {@code staged:R:B} is the default kernel with R weight rows per warp at n = 1 (1-8) and column slabs sized for
         * B blocks per multiprocessor (0-16; 0: one slab per row where it fits); {@code staged:R:B:M} also compiles
         * gemv_staged_1 for M resident blocks per multiprocessor (1-8: launch bounds that cap its registers).
         */
        public static PackedTuning parse(String text) {
            String t = text.trim().toLowerCase(java.util.Locale.ROOT);
            java.util.regex.Matcher shaped = java.util.regex.Pattern.compile("staged:(\\d+):(\\d+)(?::(\\d+))?").matcher(t);
            if (shaped.matches()) {
                int rows = Integer.parseInt(shaped.group(1)), blocks = Integer.parseInt(shaped.group(2));
                int resident = shaped.group(3) == null ? 0 : Integer.parseInt(shaped.group(3));
                if (rows < 1 || rows > 8 || blocks > 16 || (shaped.group(3) != null && (resident < 1 || resident > 8))) {
                    throw new BitcapException(ENV + ": staged:R:B[:M] takes 1-8 rows per warp, 0-16 blocks per multiprocessor and 1-8 resident"
                            + " blocks, got '" + text + "'");
                }
                return new PackedTuning(true, rows, blocks, 0, Variant.STAGED, resident);
            }
            int colon = t.indexOf(':');
            String name = colon < 0 ? t : t.substring(0, colon);
            int depth = 0;
            if (colon >= 0) {
                try {
                    depth = Integer.parseInt(t.substring(colon + 1));
                } catch (NumberFormatException e) {
                    depth = -1;
                }
            }
            int min = name.equals("async") ? 2 : 1;
            boolean known = List.of("staged", "wide", "bulk", "persist", "tc", "async").contains(name);
            if (!known || (colon >= 0 && (depth < min || depth > 8)) || (name.equals("staged") && colon >= 0)) {
                throw new BitcapException(ENV + ": expected staged[:rows:blocks], wide[:units 1-8], bulk[:stages 1-8], persist[:stages 1-8], tc[:stages 1-8] or async[:stages 2-8], got '"
                        + text + "'");
            }
            return switch (name) {
                case "wide" -> of(Variant.WIDE, depth, 0, DEFAULT.blocksPerSm());
                case "bulk" -> of(Variant.BULK, depth, 0, DEFAULT.blocksPerSm());
                case "persist" -> of(Variant.PERSIST, depth, 0, 0);
                case "tc" -> of(Variant.TC, depth, 0, 0);
                case "async" -> new PackedTuning(true, 0, DEFAULT.blocksPerSm(), colon < 0 ? 4 : depth);
                default -> DEFAULT;
            };
        }

        /**
         * Measured on the H200 (docs/CUDA_NOTES.md, 2026-12-02, int4-asym, afp4, Q8_0, Q4_0 at three Llama-3-8B
         * shapes, n = 1): 2 blocks per SM was the fastest staged setting or within 0.3 µs of it in 9 of 11 cases (one
         * slab per row was 1.2 / 2.5 µs faster for afp4 4096×4096 and Q4_0 14336×4096); 4, 8 and 16 were slower.
         */
        public static final PackedTuning DEFAULT = new PackedTuning(true, 0, 2);
    }

    /**
     * Decode kernels for n &le; 4 packed rows (gemv_packed.cu, compiled only with GEMV_VARIANTS=1): STAGED is the
     * default gemv_staged_*; WIDE (gemv_wide_1/4) has each lane request several units of its rows before any math;
     * BULK (gemv_bulk_1/4) has each warp's lane 0 bulk-copy (TMA) whole 32-unit chunks of its rows into a ring in
     * shared memory, every step of a short slab requested at once; PERSIST (gemv_persist_1, n = 1 only) is one wave of
     * blocks whose warps stream their row groups back to back, each lane copying its own units by cp.async, the
     * activations staged once per block for the whole row (it replaced STREAM, the same with the bulk-copy engine:
     * slower); TC (gemv_tc_1, n = 1, 4-bit INT codes, groups of whole
     * 128-column steps) sums on tensor cores with the activations split into fp16 hi + lo. Measured on the H200
     * (docs/CUDA_NOTES.md); not a default.
     */
    public enum Variant { STAGED, WIDE, BULK, PERSIST, TC }

    private PackedTuning tuning = PackedTuning.fromEnvironment();
    private long partial, partialBytes, counters;
    private int counterCount;

    public void setPackedTuning(PackedTuning t) {
        this.tuning = t;
    }

    public PackedTuning packedTuning() {
        return tuning;
    }

    private CudaModule packedModule(DeviceMatrix.Packed p) {
        List<String> defines = new java.util.ArrayList<>(List.of("BITS=" + p.bits(), "ZERO_POINT=" + (p.zeroPoint() ? 1 : 0),
                "AFFINE=" + (p.affine() ? 1 : 0), "PARAMS=" + p.paramCount()));
        if (tuning.rowsPerWarp1() > 0) defines.add("STAGED_R1=" + tuning.rowsPerWarp1());
        // staged:R:B:M: gemv_staged_1 compiled for M resident blocks per multiprocessor (its registers capped to fit)
        if (tuning.variant() == Variant.STAGED && tuning.depth() > 0) defines.add("STAGED_MIN_BLOCKS=" + tuning.depth());
        // 4 is the kernel's own default: the same module as without the define (the default modules carry gemv_async_1)
        if (tuning.asyncStages() > 0 && tuning.asyncStages() != 4) defines.add("ASYNC_STAGES=" + tuning.asyncStages());
        if (tuning.variant() != Variant.STAGED) {
            defines.add("GEMV_VARIANTS=1");
            if (tuning.rowsPerWarp1() > 0) {
                defines.addAll(List.of("WIDE_R1=" + tuning.rowsPerWarp1(), "PERSIST_R1=" + tuning.rowsPerWarp1()));
            }
            if (tuning.depth() > 0) {
                defines.add(switch (tuning.variant()) {
                    case WIDE -> "WIDE_UNITS=";
                    case PERSIST -> "PERSIST_STAGES=";
                    case TC -> "TC_STAGES=";
                    default -> "BULK_STAGES=";
                } + tuning.depth());
            }
        }
        defines = withAccumulate(defines);
        String key = String.join(" ", defines); // settings that compile to the same source share a module
        CudaModule m = packedModules.get(key);
        if (m == null) {
            m = device.module("gemv_packed.cu", defines);
            packedModules.put(key, m);
        }
        return m;
    }

    /** Weight rows per block of gemv_packed_1 (ROWS_1 in gemv_packed.cu): 8 for INT codes up to 4 bits, else 4. */
    static int rowsPerBlock1(DeviceMatrix.Packed p) {
        return p.affine() && p.bits() <= 4 ? 8 : 4;
    }

    /** Weight rows per warp of gemv_staged_1 by default (STAGED_R1 in gemv_packed.cu): 4 for INT codes up to 4 bits, else 2. */
    static int stagedRows1(DeviceMatrix.Packed p) {
        return p.affine() && p.bits() <= 4 ? 4 : 2;
    }

    /** Weight rows per warp of gemv_staged_8 (STAGED_R8): 2 where a second table column doubles the sums, else 4. */
    static int stagedRows8(DeviceMatrix.Packed p) {
        return !p.affine() && !p.zeroPoint() && p.paramCount() > 1 ? 2 : 4;
    }

    /** Shared memory the staged kernels may take without opting in (48 KiB). */
    static final int STAGED_SHARED_LIMIT = 48 * 1024;
    /** Bytes of staged activations per unit of 32 columns and activation row (8 float4 + 1 of padding). */
    static final int STAGED_UNIT_BYTES = 9 * 16;

    /**
     * Units of 32 columns per slab: enough slabs that rowBlocks·zBlocks·slabs reaches about {@code blocksPerSm} per
     * multiprocessor, whole multiples of 32 units (one per lane), the staged activations within the shared limit.
     */
    static int slabUnits(int units, int rowBlocks, int zBlocks, int activationRows, int multiprocessors, int blocksPerSm, int sharedBytes) {
        long target = Math.max(1L, (long) blocksPerSm * multiprocessors); // blocksPerSm 0: one slab where it fits
        long splits = Math.max(1, Math.min((units + 31) / 32, (target + (long) rowBlocks * zBlocks - 1) / ((long) rowBlocks * zBlocks)));
        int slab = (int) ((units + splits - 1) / splits);
        slab = (slab + 31) / 32 * 32;
        int cap = Math.max(32, sharedBytes / (STAGED_UNIT_BYTES * activationRows) / 32 * 32);
        return Math.min(slab, cap);
    }

    /** One activation row: gemv_packed_1 (or gemv_staged_1); more: four (staged: four or eight) at a time. */
    private void packedGemv(DeviceMatrix w, long x, long y, int n) {
        DeviceMatrix.Packed p = w.packed();
        if (tuning.staged()) {
            stagedGemv(w, x, y, n);
            return;
        }
        boolean one = n == 1;
        int rowsPerBlock = one ? rowsPerBlock1(p) : 4;
        packedModule(p).launch(one ? "gemv_packed_1" : "gemv_packed_4").ptr(w.pointer()).ptr(p.params()).ptr(p.table()).ptr(p.inputScale())
                .ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(n).i(p.unitsPerGroup()).i(p.groups()).i(p.paramCount()).i(p.affineOffset())
                .run((w.rows() + rowsPerBlock - 1) / rowsPerBlock, one ? 1 : (n + 3) / 4, 1, 128, 0);
    }

    private void stagedGemv(DeviceMatrix w, long x, long y, int n) {
        DeviceMatrix.Packed p = w.packed();
        if (n == 1 && tuning.asyncStages() > 0) {
            asyncGemv(w, x, y);
            return;
        }
        if (variantKernel(tuning, w, n) != null) {
            variantGemv(w, x, y, n);
            return;
        }
        int nt = n == 1 ? 1 : n <= 4 ? 4 : 8;
        int rowsPerWarp = nt == 1 ? (tuning.rowsPerWarp1() > 0 ? tuning.rowsPerWarp1() : stagedRows1(p)) : nt == 4 ? 2 : stagedRows8(p);
        int rowBlocks = (w.rows() + 8 * rowsPerWarp - 1) / (8 * rowsPerWarp);
        int zBlocks = (n + nt - 1) / nt;
        int units = (w.cols() + 31) / 32;
        int slab = slabUnits(units, rowBlocks, zBlocks, nt, device.multiprocessors(), tuning.blocksPerSm(), STAGED_SHARED_LIMIT);
        int slabs = (units + slab - 1) / slab;
        CudaModule m = packedModule(p);
        if (slabs > 1) slabScratch(m, (long) slabs * n * w.rows() * 4, rowBlocks * zBlocks);
        m.launch("gemv_staged_" + nt).ptr(w.pointer()).ptr(p.params()).ptr(p.table()).ptr(p.inputScale()).ptr(x).ptr(y).i(w.rows())
                .i(w.cols()).i(n).i(p.unitsPerGroup()).i(p.groups()).i(p.paramCount()).i(p.affineOffset()).i(slab).ptr(partial).ptr(counters)
                .run(rowBlocks, slabs, zBlocks, 256, slab * nt * STAGED_UNIT_BYTES);
    }

    /** Shared memory gemv_async_1 may take: two blocks per multiprocessor fit in the H100/H200's 228 KiB. */
    static final int ASYNC_SHARED_LIMIT = 112 * 1024;
    private final java.util.Set<CudaModule> asyncOptIn = new java.util.HashSet<>();

    /** gemv_async_1 (experimental): the activation slab plus a ring of asyncStages steps per warp in shared memory. */
    private void asyncGemv(DeviceMatrix w, long x, long y) {
        DeviceMatrix.Packed p = w.packed();
        int rowsPerWarp = tuning.rowsPerWarp1() > 0 ? tuning.rowsPerWarp1() : stagedRows1(p);
        int ring = 8 * tuning.asyncStages() * rowsPerWarp * 32 * Math.max(16, 4 * p.bits());
        if (ring + 32 * STAGED_UNIT_BYTES > ASYNC_SHARED_LIMIT) {
            throw new BitcapException("gemv_async_1: " + tuning.asyncStages() + " stages of " + rowsPerWarp + " rows do not fit in "
                    + ASYNC_SHARED_LIMIT + " bytes of shared memory");
        }
        int rowBlocks = (w.rows() + 8 * rowsPerWarp - 1) / (8 * rowsPerWarp);
        int units = (w.cols() + 31) / 32;
        int slab = slabUnits(units, rowBlocks, 1, 1, device.multiprocessors(), tuning.blocksPerSm(), ASYNC_SHARED_LIMIT - ring);
        int slabs = (units + slab - 1) / slab;
        CudaModule m = packedModule(p);
        if (asyncOptIn.add(m)) m.setMaxDynamicSharedMemory("gemv_async_1", ASYNC_SHARED_LIMIT);
        if (slabs > 1) slabScratch(m, (long) slabs * w.rows() * 4, rowBlocks);
        m.launch("gemv_async_1").ptr(w.pointer()).ptr(p.params()).ptr(p.table()).ptr(p.inputScale()).ptr(x).ptr(y).i(w.rows()).i(w.cols())
                .i(1).i(p.unitsPerGroup()).i(p.groups()).i(p.paramCount()).i(p.affineOffset()).i(slab).ptr(partial).ptr(counters)
                .run(rowBlocks, slabs, 1, 256, slab * STAGED_UNIT_BYTES + ring);
    }

    /** Shared memory the opt-in variants may take (as gemv_async_1: two blocks per multiprocessor). */
    static final int VARIANT_SHARED_LIMIT = ASYNC_SHARED_LIMIT;
    private final java.util.Set<java.util.Map.Entry<CudaModule, String>> variantOptIn = new java.util.HashSet<>();

    /**
     * The opt-in kernel {@code t} runs for {@code w} at {@code n} activation rows, or null where the default staged
     * kernels run: the variants cover packed weights at n &le; 4 (PERSIST and TC n = 1); BULK needs rows of a multiple
     * of 16 bytes, PERSIST and TC a whole row's activations beside their rings in {@link #VARIANT_SHARED_LIMIT}, TC
     * 4-bit INT codes in groups of whole 128-column steps.
     */
    static String variantKernel(PackedTuning t, DeviceMatrix w, int n) {
        if (t.variant() == Variant.STAGED || !t.staged() || w.packed() == null || n > 4) return null;
        if (n == 1 && t.asyncStages() > 0) return null;
        if (t.variant() == Variant.TC) return n == 1 && tensorCoreShape(w) && tensorCoreShared(w.cols(), tcStages(t)) <= VARIANT_SHARED_LIMIT ? "gemv_tc_1" : null;
        if (t.variant() == Variant.PERSIST) {
            int ring = persistRingBytes(t.depth() > 0 ? t.depth() : 4, variantRows(t, w.packed(), 1), w.packed().bits());
            return n == 1 && (long) (w.cols() + 31) / 32 * STAGED_UNIT_BYTES + ring <= VARIANT_SHARED_LIMIT ? "gemv_persist_1" : null;
        }
        if (t.variant() != Variant.WIDE && !bulkRowsAligned(w.cols(), w.packed().bits())) return null;
        return (t.variant() == Variant.WIDE ? "gemv_wide_" : "gemv_bulk_") + (n == 1 ? 1 : 4);
    }

    /** Bulk copies move 16-byte multiples between 16-byte aligned addresses: every row's bytes a multiple of 16. */
    static boolean bulkRowsAligned(int cols, int bits) {
        return (long) (cols + 31) / 32 * 4 * bits % 16 == 0;
    }

    /** Weight rows per warp of a variant kernel at n = 1: WIDE_R1 / PERSIST_R1 (default 2), STAGED_R1 for BULK; 2 at n &le; 4. */
    static int variantRows(PackedTuning t, DeviceMatrix.Packed p, int n) {
        if (n > 1) return 2;
        if (t.rowsPerWarp1() > 0) return t.rowsPerWarp1();
        return t.variant() == Variant.BULK ? stagedRows1(p) : 2;
    }

    /** gemv_tc_1's conditions: 4-bit INT codes, whole 128-column steps, groups of whole steps. */
    static boolean tensorCoreShape(DeviceMatrix w) {
        DeviceMatrix.Packed p = w.packed();
        return p.bits() == 4 && p.affine() && w.cols() % 128 == 0 && p.unitsPerGroup() % 4 == 0;
    }

    private static int tcStages(PackedTuning t) {
        return t.depth() > 0 ? t.depth() : 4;
    }

    /**
     * Dynamic shared memory of gemv_tc_1: the activation slots (9 of 16 bytes per unit), a sum and a scale per step of
     * 4 units, 8 warps × 16 sums, padded to 16 bytes, then 8 warps × stages × 32 lanes × 32 bytes of ring.
     */
    static int tensorCoreShared(int cols, int stages) {
        int units = cols / 32, steps = units / 4;
        return (units * STAGED_UNIT_BYTES + 8 * steps + 4 * 8 * 16 + 15) / 16 * 16 + 8 * stages * 32 * 32;
    }

    /** Bytes of gemv_persist_1's rings per block: 8 warps × stages × rows × 32 units (no barriers, no alignment padding). */
    static int persistRingBytes(int stages, int rowsPerWarp, int bits) {
        return 8 * stages * rowsPerWarp * 32 * 4 * bits;
    }

    /** Blocks of a one-wave kernel: {@code blocksPerSm} (0: 2) per multiprocessor, or fewer where the groups of 8 warps' rows end first. */
    static int oneWaveBlocks(int rows, int rowsPerWarp, int multiprocessors, int blocksPerSm) {
        long groups8 = ((long) rows + 8L * rowsPerWarp - 1) / (8L * rowsPerWarp);
        return (int) Math.max(1, Math.min(groups8, (long) (blocksPerSm > 0 ? blocksPerSm : 2) * multiprocessors));
    }

    /**
     * Bytes of gemv_bulk_*'s rings and mbarriers per block: 8 warps × stages × rows × 32 units, 8 bytes per stage and
     * warp, and 128 for aligning the rings after the activations.
     */
    static int bulkRingBytes(int stages, int rowsPerWarp, int bits) {
        return 8 * stages * rowsPerWarp * 32 * 4 * bits + 8 * stages * 8 + 128;
    }

    /**
     * gemv_wide_* / gemv_bulk_* (opt-in): launched as gemv_staged_* (grid, slabs, scratch; the bulk rings after the
     * activations); gemv_persist_1 / gemv_tc_1: {@link #oneWaveGemv}.
     */
    private void variantGemv(DeviceMatrix w, long x, long y, int n) {
        if (tuning.variant() == Variant.PERSIST || tuning.variant() == Variant.TC) {
            oneWaveGemv(w, x, y);
            return;
        }
        DeviceMatrix.Packed p = w.packed();
        int nt = n == 1 ? 1 : 4;
        int rowsPerWarp = variantRows(tuning, p, n);
        boolean ringed = tuning.variant() != Variant.WIDE;
        String kernel = (ringed ? "gemv_bulk_" : "gemv_wide_") + nt;
        int stages = tuning.depth() > 0 ? tuning.depth() : 4; // BULK_STAGES when not defined
        int ring = ringed ? bulkRingBytes(stages, rowsPerWarp, p.bits()) : 0;
        int limit = ringed ? VARIANT_SHARED_LIMIT : STAGED_SHARED_LIMIT;
        if (ring + 32 * nt * STAGED_UNIT_BYTES > limit) {
            throw new BitcapException(kernel + ": " + stages + " stages of " + rowsPerWarp + " rows of " + p.bits()
                    + "-bit codes do not fit in " + limit + " bytes of shared memory");
        }
        int units = (w.cols() + 31) / 32;
        int zBlocks = (n + nt - 1) / nt;
        int rowBlocks = (w.rows() + 8 * rowsPerWarp - 1) / (8 * rowsPerWarp);
        int slab = slabUnits(units, rowBlocks, zBlocks, nt, device.multiprocessors(), tuning.blocksPerSm(), limit - ring);
        int slabs = (units + slab - 1) / slab;
        CudaModule m = packedModule(p);
        int shared = slab * nt * STAGED_UNIT_BYTES + ring;
        if (shared > STAGED_SHARED_LIMIT && variantOptIn.add(java.util.Map.entry(m, kernel))) {
            m.setMaxDynamicSharedMemory(kernel, VARIANT_SHARED_LIMIT);
        }
        if (slabs > 1) slabScratch(m, (long) slabs * n * w.rows() * 4, rowBlocks * zBlocks);
        m.launch(kernel).ptr(w.pointer()).ptr(p.params()).ptr(p.table()).ptr(p.inputScale()).ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(n)
                .i(p.unitsPerGroup()).i(p.groups()).i(p.paramCount()).i(p.affineOffset()).i(slab).ptr(partial).ptr(counters)
                .run(rowBlocks, slabs, zBlocks, 256, shared);
    }

    /**
     * gemv_persist_1 / gemv_tc_1 (opt-in, n = 1): one wave of blocks (as many as fit per multiprocessor with this
     * shared memory, or {@code blocksPerSm} when set; fewer where the row groups or 16-row tiles end first), the whole
     * row's activations staged per block, then each warp's ring (variantKernel checked that both fit).
     */
    private void oneWaveGemv(DeviceMatrix w, long x, long y) {
        DeviceMatrix.Packed p = w.packed();
        boolean tc = tuning.variant() == Variant.TC;
        String kernel = tc ? "gemv_tc_1" : "gemv_persist_1";
        int rowsPerWarp = tc ? 2 : variantRows(tuning, p, 1); // gemv_tc_1: 16-row tiles per block of 8 warps
        int units = (w.cols() + 31) / 32;
        int shared = tc ? tensorCoreShared(w.cols(), tcStages(tuning))
                : units * STAGED_UNIT_BYTES + persistRingBytes(tuning.depth() > 0 ? tuning.depth() : 4, rowsPerWarp, p.bits());
        CudaModule m = packedModule(p);
        if (shared > STAGED_SHARED_LIMIT && variantOptIn.add(java.util.Map.entry(m, kernel))) {
            m.setMaxDynamicSharedMemory(kernel, VARIANT_SHARED_LIMIT);
        }
        int perSm = tuning.blocksPerSm() > 0 ? tuning.blocksPerSm() : persistOccupancy.computeIfAbsent(java.util.Map.entry(m, kernel + shared),
                e -> Math.max(1, e.getKey().maxActiveBlocks(kernel, 256, shared)));
        int blocks = oneWaveBlocks(w.rows(), rowsPerWarp, device.multiprocessors(), perSm);
        m.launch(kernel).ptr(w.pointer()).ptr(p.params()).ptr(p.table()).ptr(p.inputScale()).ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(1)
                .i(p.unitsPerGroup()).i(p.groups()).i(p.paramCount()).i(p.affineOffset()).i(units).ptr(0L).ptr(0L).run(blocks, 1, 1, 256, shared);
    }

    /** Blocks of gemv_persist_1 / gemv_tc_1 that fit one multiprocessor, per module, kernel and shared memory size. */
    private final java.util.Map<java.util.Map.Entry<CudaModule, String>, Integer> persistOccupancy = new java.util.HashMap<>();

    /**
     * Q8_0 / Q4_0 rows of whole 256-column multiples (16-byte aligned rows): gemv_ggml_staged_1 (4 rows per warp) or
     * _4 (2 rows per warp, up to four activation rows); shared memory holds the activation slab and each warp's
     * 32-block buffer per row.
     */
    private void stagedGgml(CudaModule m, DeviceMatrix w, long x, long y, int n) {
        int nt = n == 1 ? 1 : 4;
        int rowsPerWarp = n == 1 ? 4 : 2;
        int blockBytes = w.type() == DType.Q8_0 ? 34 : 18;
        int buffers = 8 * rowsPerWarp * (32 * blockBytes / 16) * 16;
        int rowBlocks = (w.rows() + 8 * rowsPerWarp - 1) / (8 * rowsPerWarp);
        int blocks = w.cols() / 32;
        int slab = slabUnits(blocks, rowBlocks, 1, nt, device.multiprocessors(), tuning.blocksPerSm(), STAGED_SHARED_LIMIT - buffers);
        int slabs = (blocks + slab - 1) / slab;
        if (slabs > 1) slabScratch(m, (long) slabs * n * w.rows() * 4, rowBlocks);
        m.launch("gemv_ggml_staged_" + nt).ptr(w.pointer()).ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(n).l(w.rowBytes()).i(slab).ptr(partial)
                .ptr(counters).run(rowBlocks, slabs, 1, 256, slab * nt * STAGED_UNIT_BYTES + buffers);
    }

    /** Scratch for the staged kernels' slab sums and their zeroed counters (kept and grown, never shrunk). */
    private void slabScratch(CudaModule m, long bytes, int counterCount) {
        if (partialBytes < bytes) {
            if (partial != 0) device.free(partial);
            partialBytes = Math.max(bytes, 2 * partialBytes);
            partial = device.alloc(partialBytes);
        }
        if (this.counterCount < counterCount) {
            if (counters != 0) device.free(counters);
            this.counterCount = Math.max(counterCount, 2 * this.counterCount);
            counters = device.alloc(4L * this.counterCount);
            m.launch("zero_counters").ptr(counters).i(this.counterCount).run((this.counterCount + 255) / 256, 256);
        }
    }

    private CudaModule binaryModule(DeviceMatrix.Binary b) {
        String key = "binary " + b.stateBits() + " " + b.regions() + " " + (b.keptPer8() < 8) + (accumulate ? " accumulate" : "");
        CudaModule m = packedModules.get(key);
        if (m == null) {
            m = device.module("gemv_binary.cu", withAccumulate(List.of("STATE_BITS=" + b.stateBits(), "REGIONS=" + b.regions(),
                    "PRUNED=" + (b.keptPer8() < 8 ? 1 : 0))));
            packedModules.put(key, m);
        }
        return m;
    }

    /** Binary weights: 4 rows per block of 128 threads; gemv_binary_1 for one activation row, else four at a time. */
    private void binaryGemv(DeviceMatrix w, long x, long y, int n) {
        DeviceMatrix.Binary b = w.binary();
        boolean one = n == 1;
        binaryModule(b).launch(one ? "gemv_binary_1" : "gemv_binary_4").ptr(w.pointer()).ptr(b.states()).ptr(b.params()).ptr(b.salient())
                .ptr(x).ptr(y).i(w.rows()).i(w.cols()).i(n).run((w.rows() + 3) / 4, one ? 1 : (n + 3) / 4, 1, 128, 0);
    }

    /**
     * cuBLAS: F32 directly; F16/BF16 with the activations rounded to the weight type; packed matrices dequantized to
     * an fp16 copy first (input scale folded in), then as F16.
     */
    private void cublas(DeviceMatrix w, long x, long y, int n) {
        long weights = w.pointer();
        DType type = w.type();
        if (w.packed() != null) {
            DeviceMatrix.Packed p = w.packed();
            weights = dequantized(2L * w.rows() * w.cols());
            int units = (w.cols() + 31) / 32;
            long total = (long) w.rows() * units;
            int blocks = (int) Math.min((total + 255) / 256, 16L * device.multiprocessors());
            packedModule(p).launch("dequantize_f16").ptr(w.pointer()).ptr(p.params()).ptr(p.table()).ptr(p.inputScale()).ptr(weights)
                    .i(w.rows()).i(w.cols()).i(p.unitsPerGroup()).i(p.groups()).i(p.paramCount()).run(blocks, 256);
            type = DType.F16;
        } else if (w.binary() != null) {
            DeviceMatrix.Binary b = w.binary();
            weights = dequantized(2L * w.rows() * w.cols());
            long total = (long) w.rows() * ((w.cols() + 31) / 32);
            int blocks = (int) Math.min((total + 255) / 256, 16L * device.multiprocessors());
            binaryModule(b).launch("dequantize_binary_f16").ptr(w.pointer()).ptr(b.states()).ptr(b.params()).ptr(b.salient()).ptr(weights)
                    .i(w.rows()).i(w.cols()).run(blocks, 256);
            type = DType.F16;
        }
        long in = x;
        if (type != DType.F32) {
            long bytes = 2L * n * w.cols();
            if (scratchBytes < bytes) {
                if (scratch != 0) device.free(scratch);
                scratchBytes = Math.max(bytes, 2 * scratchBytes);
                scratch = device.alloc(scratchBytes);
            }
            ops.to16Bit(x, scratch, (long) n * w.cols(), type);
            in = scratch;
        }
        device.cublas().matmul(weights, type, in, y, w.rows(), w.cols(), n);
    }

    private long dequantized(long bytes) {
        if (dequantBytes < bytes) {
            if (dequant != 0) device.free(dequant);
            dequantBytes = bytes;
            dequant = device.alloc(bytes);
        }
        return dequant;
    }
}
