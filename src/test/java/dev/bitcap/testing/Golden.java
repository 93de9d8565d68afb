package dev.bitcap.testing;

/** Known outputs of the reference checkpoints in ../shared/data. */
public final class Golden {
    private Golden() {}

    /** Greedy decoding of stories260K from BOS (llama2.c's own sample, from ../shared/data/README.md). */
    public static final String STORIES260K_FROM_BOS = "Once upon a time, there was a little girl named Lily. She loved to play "
            + "outside in the park. One day, she saw a big, red ball.";
}
