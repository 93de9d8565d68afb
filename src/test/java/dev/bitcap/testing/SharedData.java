package dev.bitcap.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Locates {@code ../shared/data} (the reference checkpoints and fixtures). A user's clone has no such
 * folder: tests that need it are skipped with a message naming the missing file. CI sets
 * {@code -Dbitcap.requireSharedData=true}, which turns the absence into a failure.
 */
public final class SharedData {
    private SharedData() {}

    public static Path root() {
        String override = System.getenv("BITCAP_SHARED_DATA");
        if (override != null && !override.isBlank()) return Path.of(override);
        return Path.of("..", "shared", "data").toAbsolutePath().normalize();
    }

    /** The file at {@code relative} under the shared data folder; skips (or fails on CI) when it is missing. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        if (!Files.exists(p)) {
            String message = "missing shared data file " + p + " (tests that need ../shared/data are skipped without it)";
            if (Boolean.getBoolean("bitcap.requireSharedData")) {
                Assertions.fail(message);
            }
            Assumptions.abort(message);
        }
        return p;
    }
}
