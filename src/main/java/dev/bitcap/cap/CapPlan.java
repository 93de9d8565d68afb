package dev.bitcap.cap;

import dev.bitcap.hw.DeviceSpec;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything one {@code bitcap cap} run needs, after the config file and flags are merged.
 *
 * @param model          checkpoint path, or null for the built-in tiny MoE
 * @param evalText       text for perplexity and agreement windows, or null (random-token windows)
 * @param hardware       the catalog entry whose datasheet peaks, power and price the figures use
 * @param computeDtype   the dtype whose peak FLOPS S-MFU is measured against (fp32 on the CPU)
 * @param measured       this machine's measured CPU ceilings (NaN where not probed)
 * @param accuracyWindows windows for agreement/perplexity, each {@code accuracyContext} tokens
 * @param calibText      calibration text for clip/GPTQ/AWQ, or null (random-token windows)
 * @param measuredCuda   GPU 0's measured ceilings, for configurations on cuda (NaN where not probed)
 * @param tasks          exact-match tasks scored on every configuration (their accuracy becomes the radar's), or null
 */
public record CapPlan(Path model, Path tokenizer, Path evalText, Workload workload, List<CapConfiguration> configurations,
                      CountingMode mode, CostModel cost, DeviceSpec hardware, String computeDtype, Ceilings measured,
                      int accuracyWindows, int accuracyContext, Path calibText, int calibSamples, int calibSeqLen,
                      Ceilings measuredCuda, ExactMatchTasks tasks) {
    public CapPlan {
        configurations = List.copyOf(configurations);
    }

    /** The measured ceilings of the device a configuration runs on. */
    public Ceilings measuredFor(String device) {
        return device.equals("cuda") ? measuredCuda : measured;
    }

    public Ceilings datasheet() {
        return new Ceilings("datasheet " + hardware.id() + " " + computeDtype, hardware.bandwidthBytesPerSecond(),
                hardware.flopsPerSecond(computeDtype));
    }
}
