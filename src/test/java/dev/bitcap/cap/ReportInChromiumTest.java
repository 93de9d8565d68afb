package dev.bitcap.cap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report opens in headless Chromium (Debian's {@code chromium}, which {@code .ci/run} installs) with nothing on
 * its console. Skipped when Chromium is absent, a failure on CI ({@code -Pci}) as with the shared-data tests. A page
 * with a deliberate error is opened first, so a Chromium that stopped logging console messages cannot pass silently.
 */
class ReportInChromiumTest {
    @TempDir Path dir;

    private static Path chromium() {
        for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
                Path p = Path.of(d, name);
                if (Files.isExecutable(p)) return p;
            }
        }
        String message = "chromium not found on PATH (apt-get install chromium; .ci/run installs it); the report test is skipped";
        if (Boolean.getBoolean("bitcap.requireSharedData")) Assertions.fail(message);
        Assumptions.abort(message);
        return null;
    }

    private record Opened(String dom, List<String> console) {}

    private Opened open(Path chromium, Path page) throws IOException, InterruptedException {
        Path err = dir.resolve("stderr.txt"), out = dir.resolve("dom.html");
        Process p = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=" + dir.resolve("profile"), "--dump-dom", page.toUri().toString())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            Assertions.fail("chromium did not finish within 120 s");
        }
        List<String> console = new ArrayList<>();
        for (String line : Files.readAllLines(err)) if (line.contains(":CONSOLE")) console.add(line);
        return new Opened(Files.readString(out), console);
    }

    @Test
    void reportOpensWithoutConsoleMessages() throws Exception {
        Path chromium = chromium();
        Path bad = dir.resolve("bad.html");
        Files.writeString(bad, "<!DOCTYPE html><html><body><script>console.error('x'); noSuchFunction();</script></body></html>");
        assertEquals(2, open(chromium, bad).console().size(), "the control page's two errors must show on the console");

        Path report = dir.resolve("report.html");
        ReportWriter.write(report, new ReportWriter.Context("test report", Map.of("model", "synthetic rows"),
                new Ceilings("datasheet", 3.35e12, 989e12), new Ceilings("measured", 5e9, 8e10), CountingMode.PAPER, List.of("a note")), rows());
        Opened o = open(chromium, report);
        assertEquals(List.of(), o.console());
        assertTrue(o.dom().contains("<svg") && o.dom().contains("CAP radar"), "the report's DOM came back");
    }

    static List<CapResult> rows() {
        List<CapResult> rows = new ArrayList<>();
        String[][] configs = {{"f32", "", "0"}, {"int4-asym", "rtn", "128"}, {"int2-asym", "clip", "128"}};
        double[][] v = {{0.004, 1.0, 0.02}, {0.002, 0.7, 0.01}, {0.0015, 0.2, 0.008}};
        for (int i = 0; i < configs.length; i++) {
            CapConfiguration c = new CapConfiguration(configs[i][0], configs[i][1], Integer.parseInt(configs[i][2]), null, "f32", "cpu");
            for (int batch : new int[] {1, 8}) {
                rows.add(new CapResult(c, batch, CapResult.Status.OK, "", Map.of("tpot_s", v[i][0] * batch / 2, "top1_agreement", v[i][1],
                        "cost_usd_per_mtok", v[i][2], "decode_flops_per_s", 1e9 * batch, "decode_bytes_per_s", 2e9, "prefill_flops_per_s", 2e10,
                        "prefill_bytes_per_s", 1e9)));
            }
        }
        rows.add(new CapResult(new CapConfiguration("f32", "", 0, null, "int4", "cpu"), 1, CapResult.Status.SKIPPED, "not available in this build", Map.of()));
        return rows;
    }
}
