package dev.bitcap.compress;

import dev.bitcap.BitcapException;
import java.util.Arrays;
import java.util.stream.Collectors;

/** How the codes of a matrix are chosen. */
public enum QuantMethod {
    /** Round to nearest on each group's min/max. */
    RTN("rtn", false),
    /** BitDistiller's asymmetric clipping search on calibration activations. */
    CLIP("clip", true),
    /** GPTQ: column by column with error feedback through the inverse Hessian of the calibration inputs. */
    GPTQ("gptq", true),
    /** AWQ: per-input-channel scales from activation magnitudes, then RTN and a clip search. */
    AWQ("awq", true),
    /** BiLLM: binary weights, salient columns with residual binarization, the rest split by one break-point. */
    BILLM("billm", true),
    /** STBLLM: binary weights under an N:M mask from Standardized Importance, N allocated per layer, trisection. */
    STBLLM("stbllm", true);

    private final String cliName;
    private final boolean needsCalibration;

    QuantMethod(String cliName, boolean needsCalibration) {
        this.cliName = cliName;
        this.needsCalibration = needsCalibration;
    }

    public String cliName() {
        return cliName;
    }

    public boolean needsCalibration() {
        return needsCalibration;
    }

    /** Whether the method makes the {@code binary} format rather than a group format. */
    public boolean binary() {
        return this == BILLM || this == STBLLM;
    }

    public static QuantMethod byName(String name) {
        for (QuantMethod m : values()) if (m.cliName.equals(name)) return m;
        throw new BitcapException("unknown quantization method '" + name + "' (valid: "
                + Arrays.stream(values()).map(QuantMethod::cliName).collect(Collectors.joining(", ")) + ")");
    }
}
