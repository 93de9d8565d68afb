package dev.bitcap.cap;

import dev.bitcap.BitcapException;
import java.util.List;

/**
 * What each configuration is asked to do: at each batch size, requests of {@code inputLength} prompt tokens (random
 * ids with a fixed seed, or the given prompts) each generating {@code outputLength} tokens whatever they are (stop
 * tokens ignored, as MoE-CAP's fixed-length mode does); a batch is prefilled in one pass and decoded together.
 *
 * @param prompts tokenized prompts, or null for random ids; requests cycle through them
 * @param rounds  batches run at each batch size (requests = batch × rounds)
 */
public record Workload(int inputLength, int outputLength, List<Integer> batchSizes, List<int[]> prompts, int rounds, long seed) {
    public Workload {
        if (inputLength < 1) throw new BitcapException("workload input_length must be >= 1, got " + inputLength);
        if (outputLength < 2) throw new BitcapException("workload output_length must be >= 2 (TPOT needs a decode step), got " + outputLength);
        if (batchSizes.isEmpty()) throw new BitcapException("workload batch_sizes is empty");
        for (int b : batchSizes) if (b < 1) throw new BitcapException("workload batch_sizes must be >= 1, got " + b);
        if (rounds < 1) throw new BitcapException("workload rounds must be >= 1, got " + rounds);
        batchSizes = List.copyOf(batchSizes);
        if (prompts != null) {
            if (prompts.isEmpty()) throw new BitcapException("workload prompts file has no prompts");
            prompts = List.copyOf(prompts);
        }
    }

    /** The longest prompt a request can have. */
    public int maxPromptLength() {
        return prompts == null ? inputLength : prompts.stream().mapToInt(p -> p.length).max().orElse(0);
    }
}
