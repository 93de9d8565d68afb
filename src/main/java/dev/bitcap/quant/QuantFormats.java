package dev.bitcap.quant;

import dev.bitcap.BitcapException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The registered weight formats, by name, and the storage arithmetic they share. */
public final class QuantFormats {
    private static final Map<String, QuantFormat> BY_NAME = new LinkedHashMap<>();

    static {
        for (int b : new int[] {2, 3, 4, 8}) add(new IntSymmetricFormat(b));
        for (int b : new int[] {2, 3, 4, 8}) add(new IntAsymmetricFormat(b));
        add(new SymmetricCodebookFormat("fp4", Codebook.FP4));
        add(new SymmetricCodebookFormat("fp3", Codebook.FP3));
        add(new TwoScaleCodebookFormat("afp4", Codebook.FP4));
        add(new TwoScaleCodebookFormat("afp3", Codebook.FP3));
        add(new SymmetricCodebookFormat("nf4", Codebook.NF4));
        add(new SymmetricCodebookFormat("nf3", Codebook.NF3));
        add(new TwoScaleCodebookFormat("anf4", Codebook.NF4));
        add(new TwoScaleCodebookFormat("anf3", Codebook.NF3));
    }

    private QuantFormats() {}

    private static void add(QuantFormat f) {
        BY_NAME.put(f.name(), f);
    }

    /** Every format, in the order int2-sym .. int8-sym, int2-asym .. int8-asym, fp4 fp3 afp4 afp3 nf4 nf3 anf4 anf3. */
    public static List<QuantFormat> all() {
        return List.copyOf(BY_NAME.values());
    }

    public static QuantFormat byName(String name) {
        QuantFormat f = BY_NAME.get(name);
        if (f == null) {
            throw new BitcapException("unknown quantization format '" + name + "'; valid formats: "
                    + String.join(" ", BY_NAME.keySet()));
        }
        return f;
    }

    /**
     * The group size to use for {@code cols} columns: {@code -1} or {@code cols} mean per channel (one group per
     * row, returned as {@code cols}); otherwise it must be a positive multiple of 32, so that groups start on a
     * 32-code unit of the packed layout.
     */
    public static int resolveGroupSize(int groupSize, int cols) {
        if (groupSize == -1 || groupSize == cols) return cols;
        if (groupSize <= 0 || groupSize % 32 != 0) {
            throw new BitcapException("group size " + groupSize + " is not valid: use a positive multiple of 32, or -1 for per channel");
        }
        return groupSize;
    }

    /**
     * True stored bits per real weight of a row of {@code cols} weights in the packed layout ({@link PackedCodes}):
     * the codes padded to a multiple of 32, plus 16 bits for each fp16 parameter of each group, divided by
     * {@code cols}. E.g. int4-asym g128, cols 4096: (4096*4 + 32*2*16) / 4096 = 4.25; cols 172 g128: 2 groups,
     * codes padded to 192: (192*4 + 2*2*16) / 172. An AWQ input scale (one float per column, shared by all rows)
     * is not counted.
     */
    public static double bitsPerWeight(QuantFormat format, int cols, int groupSize) {
        int g = resolveGroupSize(groupSize, cols);
        long padded = PackedCodes.paddedCols(cols);
        long groups = GroupQuantized.groupsPerRow(cols, g);
        return (padded * format.codeBits() + 16.0 * format.paramCount() * groups) / cols;
    }
}
