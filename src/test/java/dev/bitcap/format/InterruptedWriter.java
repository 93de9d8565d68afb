package dev.bitcap.format;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A process that starts writing a checkpoint directory atomically and never finishes: the test stops it with a
 * signal, as Ctrl-C would, and looks for what it left behind.
 */
public final class InterruptedWriter {
    private InterruptedWriter() {}

    public static void main(String[] args) {
        Path target = Path.of(args[0]);
        AtomicFiles.writeDirectory(target, false, temp -> {
            Files.writeString(temp.resolve("part-1.bin"), "partial");
            System.out.println("writing");
            System.out.flush();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }
}
