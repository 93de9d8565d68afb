package dev.bitcap.cli;

/** A one-line progress display on the terminal's stderr; silent when output is not a terminal. */
final class Progress {
    private final String label;
    private long total;
    private final boolean enabled = System.console() != null;
    private long lastPrint;

    Progress(String label, long total) {
        this.label = label;
        this.total = total;
    }

    /** For work whose size is only known once it runs. */
    void update(long done, long total) {
        this.total = total;
        update(done);
    }

    void update(long done) {
        if (!enabled) return;
        long now = System.nanoTime();
        if (done < total && now - lastPrint < 200_000_000L) return;
        lastPrint = now;
        System.err.printf("\r%s %d/%d (%.0f%%)", label, done, total, 100.0 * done / Math.max(1, total));
        if (done >= total) System.err.println();
        System.err.flush();
    }
}
