package dev.bitcap.cap;

import dev.bitcap.format.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The self-contained offline report: the CAP radar per batch size, a roofline of every configuration against the
 * ceilings, and the tables — inline SVG in one HTML file, no script and nothing fetched.
 */
public final class ReportWriter {
    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

    /** What the report says about the run besides the rows. */
    public record Context(String title, Map<String, String> facts, Ceilings datasheet, Ceilings measured, CountingMode mode, List<String> notes) {}

    private ReportWriter() {}

    public static void write(Path file, Context ctx, List<CapResult> results) {
        String html = template().replace("{{title}}", esc(ctx.title())).replace("{{body}}", body(ctx, results));
        AtomicFiles.write(file, tmp -> Files.writeString(tmp, html));
    }

    static String body(Context ctx, List<CapResult> results) {
        StringBuilder b = new StringBuilder();
        b.append("<h1>").append(esc(ctx.title())).append("</h1>\n<table>");
        ctx.facts().forEach((k, v) -> b.append("<tr><th class=l>").append(esc(k)).append("</th><td class=l>").append(esc(v)).append("</td></tr>"));
        b.append("</table>\n");
        for (String n : ctx.notes()) b.append("<p class=note>").append(esc(n)).append("</p>\n");

        List<CapResult> ok = results.stream().filter(r -> r.status() == CapResult.Status.OK).toList();
        List<String> names = results.stream().map(r -> r.configuration().name()).distinct().toList();
        b.append("<h2>CAP radar</h2>\n<p class=note>Three axes as MoE-CAP draws them, further out is better: performance = TPOT, cost = $ per million ")
                .append("output tokens, accuracy = ").append(esc(accuracyMeasure(ok))).append(". Radii 20–100: TPOT and accuracy scaled between the ")
                .append("plotted configurations' extremes, cost against the axis's second-to-last tick.</p>\n<div class=panels>");
        for (int batch : results.stream().map(CapResult::batch).distinct().sorted().toList()) {
            List<CapResult> rows = ok.stream().filter(r -> r.batch() == batch).toList();
            if (!rows.isEmpty()) b.append(radar(rows, names, "batch " + batch));
        }
        b.append("</div>\n<h2>Roofline</h2>\n<p class=note>Each configuration's achieved FLOP/s against its arithmetic intensity (")
                .append("paper counting: activated experts, FLOPs with top-k), decode ● and prefill ■, ")
                .append("under the measured ceilings (solid) and the datasheet's (dashed) where known.</p>\n");
        b.append(roofline(ok, names, ctx.datasheet(), ctx.measured()));
        b.append("<h2>Results (").append(ctx.mode().cliName()).append(" counting)</h2>\n").append(table(results, ctx.mode()));
        CountingMode other = ctx.mode() == CountingMode.PAPER ? CountingMode.MOECAP_COMPAT : CountingMode.PAPER;
        b.append("<h2>S-MBU / S-MFU, ").append(other.cliName()).append(" counting</h2>\n").append(utilTable(ok, other));
        return b.toString();
    }

    private static String table(List<CapResult> results, CountingMode mode) {
        String p = mode == CountingMode.PAPER ? "" : "compat_";
        StringBuilder b = new StringBuilder("<table><tr><th class=l>configuration</th><th>batch</th><th class=l>status</th><th>TTFT ms</th><th>TPOT ms</th>"
                + "<th>prefill tok/s</th><th>decode tok/s</th><th>req/s</th><th>bits/w</th><th>memory MB</th><th>experts/layer</th><th>activated</th>"
                + "<th>S-MBU dec (meas.)</th><th>S-MFU dec (meas.)</th><th>S-MBU pre (meas.)</th><th>S-MFU pre (meas.)</th>"
                + "<th>S-MBU dec (sheet)</th><th>top-1 agr.</th><th>KL</th><th>ppl</th><th>$/M tok</th></tr>\n");
        for (CapResult r : results) {
            b.append("<tr class=").append(r.status().name().toLowerCase()).append("><td class=l>").append(esc(r.configuration().name()))
                    .append("</td><td>").append(r.batch()).append("</td><td class=l>").append(r.status().name().toLowerCase())
                    .append(r.note().isEmpty() ? "" : ": " + esc(r.note())).append("</td>");
            if (r.status() == CapResult.Status.OK) {
                cells(b, r.number("ttft_s") * 1e3, r.number("tpot_s") * 1e3, r.number("prefill_tokens_per_s"), r.number("decode_tokens_per_s"),
                        r.number("requests_per_s"), r.number("bits_per_weight"), r.number("memory_bytes") / 1e6, r.number("decode_experts_per_layer"),
                        r.number("decode_activated_share"), r.number(p + "decode_smbu_measured"), r.number(p + "decode_smfu_measured"),
                        r.number(p + "prefill_smbu_measured"), r.number(p + "prefill_smfu_measured"), r.number(p + "decode_smbu_datasheet"),
                        r.number("top1_agreement"), r.number("mean_kl"), r.number("perplexity"), r.number("cost_usd_per_mtok"));
            } else {
                b.append("<td colspan=18></td>");
            }
            b.append("</tr>\n");
        }
        return b.append("</table>\n").toString();
    }

    private static String utilTable(List<CapResult> ok, CountingMode mode) {
        String p = mode == CountingMode.PAPER ? "" : "compat_";
        StringBuilder b = new StringBuilder("<table><tr><th class=l>configuration</th><th>batch</th><th>S-MBU dec</th><th>S-MFU dec</th>"
                + "<th>S-MBU pre</th><th>S-MFU pre</th><th>decode GB/s</th><th>decode GFLOP/s</th></tr>\n");
        for (CapResult r : ok) {
            b.append("<tr><td class=l>").append(esc(r.configuration().name())).append("</td><td>").append(r.batch()).append("</td>");
            cells(b, r.number(p + "decode_smbu_measured"), r.number(p + "decode_smfu_measured"), r.number(p + "prefill_smbu_measured"),
                    r.number(p + "prefill_smfu_measured"), r.number(p + "decode_bytes_per_s") / 1e9, r.number(p + "decode_flops_per_s") / 1e9);
            b.append("</tr>\n");
        }
        return b.append("</table><p class=note>Against the measured ceilings.</p>\n").toString();
    }

    private static void cells(StringBuilder b, double... values) {
        for (double v : values) b.append("<td>").append(fmt(v)).append("</td>");
    }

    /** The radar's accuracy: the row's {@code accuracy} (task exact match or agreement), else its top-1 agreement. */
    static double accuracy(CapResult r) {
        double a = r.number("accuracy");
        return Double.isFinite(a) ? a : r.number("top1_agreement");
    }

    /** What the accuracy axis shows, as the rows name it. */
    static String accuracyMeasure(List<CapResult> rows) {
        return rows.stream().map(r -> r.metrics().get("accuracy_measure")).filter(String.class::isInstance).map(String.class::cast).findFirst()
                .orElse("top-1 agreement with f32");
    }

    static String radar(List<CapResult> rows, List<String> names, String title) {
        int n = rows.size();
        double[] tpot = new double[n], cost = new double[n], acc = new double[n];
        for (int i = 0; i < n; i++) {
            tpot[i] = rows.get(i).number("tpot_s");
            cost[i] = rows.get(i).number("cost_usd_per_mtok");
            acc[i] = accuracy(rows.get(i));
        }
        boolean hasCost = java.util.Arrays.stream(cost).allMatch(Double::isFinite);
        double[] rp = RadarScale.performance(tpot), rc = hasCost ? RadarScale.cost(cost) : new double[n], ra = RadarScale.accuracy(acc);
        double cx = 250, cy = 190, R = 140;
        double[] angles = {-90, 30, 150};
        String[] labels = {"Performance (TPOT)", "Cost ($/M tokens)" + (hasCost ? "" : ": no price"), "Accuracy (" + accuracyMeasure(rows) + ")"};
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "<svg xmlns='http://www.w3.org/2000/svg' width='500' height='%d' role='img'>", 380 + 16 * n));
        s.append(text(cx, 18, title, "middle", 14, "bold"));
        for (int ring = 20; ring <= 100; ring += 20) {
            s.append("<polygon fill='none' stroke='#ddd' points='").append(points(cx, cy, R, angles, new double[] {ring, ring, ring})).append("'/>");
        }
        for (int a = 0; a < 3; a++) {
            double x = cx + R * Math.cos(Math.toRadians(angles[a])), y = cy + R * Math.sin(Math.toRadians(angles[a]));
            s.append(String.format(Locale.ROOT, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#aaa'/>", cx, cy, x, y));
            double lx = cx + (R + 18) * Math.cos(Math.toRadians(angles[a])), ly = cy + (R + 18) * Math.sin(Math.toRadians(angles[a]));
            s.append(text(lx, ly + (a == 0 ? -4 : 12), labels[a], "middle", 11, "normal"));
        }
        for (int i = 0; i < n; i++) {
            String color = COLORS[names.indexOf(rows.get(i).configuration().name()) % COLORS.length];
            s.append("<polygon fill='").append(color).append("' fill-opacity='0.12' stroke='").append(color).append("' stroke-width='1.5' points='")
                    .append(points(cx, cy, R, angles, new double[] {rp[i], rc[i], ra[i]})).append("'/>");
        }
        for (int i = 0; i < n; i++) {
            CapResult r = rows.get(i);
            String color = COLORS[names.indexOf(r.configuration().name()) % COLORS.length];
            double y = 380 + 16 * i;
            s.append(String.format(Locale.ROOT, "<rect x='40' y='%.1f' width='10' height='10' fill='%s'/>", y - 9, color));
            s.append(text(56, y, shortName(r.configuration()) + String.format(Locale.ROOT, ": TPOT %.2f ms, %s/M tokens, agreement %.3f", tpot[i] * 1e3,
                    hasCost ? "$" + fmt(cost[i]) : "-", acc[i]), "start", 10, "normal"));
        }
        return s.append("</svg>").toString();
    }

    private static String shortName(CapConfiguration c) {
        return (c.quantized() ? c.format() + " " + c.method() : "f32") + (c.kv().equals("f32") ? "" : " kv " + c.kv());
    }

    private static String points(double cx, double cy, double R, double[] angles, double[] radii) {
        List<String> p = new ArrayList<>();
        for (int a = 0; a < angles.length; a++) {
            double r = R * radii[a] / 100;
            p.add(String.format(Locale.ROOT, "%.1f,%.1f", cx + r * Math.cos(Math.toRadians(angles[a])), cy + r * Math.sin(Math.toRadians(angles[a]))));
        }
        return String.join(" ", p);
    }

    static String roofline(List<CapResult> ok, List<String> names, Ceilings sheet, Ceilings measured) {
        double w = 760, h = 420, left = 70, right = 20, top = 20, bottom = 50;
        List<double[]> pts = new ArrayList<>(); // x, y, kind (0 decode, 1 prefill), color index
        for (CapResult r : ok) {
            int color = names.indexOf(r.configuration().name()) % COLORS.length;
            for (String phase : new String[] {"decode", "prefill"}) {
                double f = r.number(phase + "_flops_per_s"), by = r.number(phase + "_bytes_per_s");
                if (f > 0 && by > 0) pts.add(new double[] {f / by, f, phase.equals("decode") ? 0 : 1, color});
            }
        }
        double xmin = 0.1, xmax = 1000, ymin = Double.MAX_VALUE, ymax = 0;
        for (double[] p : pts) {
            xmin = Math.min(xmin, p[0] / 2);
            xmax = Math.max(xmax, p[0] * 2);
            ymin = Math.min(ymin, p[1] / 3);
            ymax = Math.max(ymax, p[1] * 3);
        }
        for (Ceilings c : new Ceilings[] {measured, sheet}) {
            if (Double.isFinite(c.flopsPerSecond())) ymax = Math.max(ymax, c.flopsPerSecond() * 2);
            if (Double.isFinite(c.bytesPerSecond())) ymin = Math.min(ymin, c.bytesPerSecond() * xmin);
        }
        if (ymax == 0) {
            ymin = 1e6;
            ymax = 1e12;
        }
        double lx0 = Math.floor(Math.log10(xmin)), lx1 = Math.ceil(Math.log10(xmax)), ly0 = Math.floor(Math.log10(ymin)), ly1 = Math.ceil(Math.log10(ymax));
        java.util.function.DoubleUnaryOperator X = v -> left + (Math.log10(v) - lx0) / (lx1 - lx0) * (w - left - right);
        java.util.function.DoubleUnaryOperator Y = v -> h - bottom - (Math.log10(v) - ly0) / (ly1 - ly0) * (h - top - bottom);
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' role='img'>", w, h));
        s.append(String.format(Locale.ROOT, "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='none' stroke='#999'/>", left, top, w - left - right, h - top - bottom));
        for (double e = lx0; e <= lx1; e++) {
            double x = X.applyAsDouble(Math.pow(10, e));
            s.append(String.format(Locale.ROOT, "<line x1='%.1f' y1='%.0f' x2='%.1f' y2='%.0f' stroke='#eee'/>", x, top, x, h - bottom));
            s.append(text(x, h - bottom + 15, "1e" + (int) e, "middle", 10, "normal"));
        }
        for (double e = ly0; e <= ly1; e++) {
            double y = Y.applyAsDouble(Math.pow(10, e));
            s.append(String.format(Locale.ROOT, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#eee'/>", left, y, w - right, y));
            s.append(text(left - 5, y + 4, "1e" + (int) e, "end", 10, "normal"));
        }
        s.append(text(left + (w - left - right) / 2, h - 12, "arithmetic intensity (FLOP/byte)", "middle", 12, "normal"));
        s.append(String.format(Locale.ROOT, "<text x='14' y='%.0f' font-size='12' text-anchor='middle' transform='rotate(-90 14 %.0f)'>FLOP/s</text>", h / 2, h / 2));
        double xa = Math.pow(10, lx0), xb = Math.pow(10, lx1);
        int line = 0;
        for (Ceilings c : new Ceilings[] {measured, sheet}) {
            if (!Double.isFinite(c.bytesPerSecond()) || !Double.isFinite(c.flopsPerSecond())) continue;
            String dash = c == measured ? "" : " stroke-dasharray='6 4'";
            double ridge = c.ridge();
            double ya = Math.max(c.bytesPerSecond() * xa, Math.pow(10, ly0));
            double xs = Math.max(xa, ya / c.bytesPerSecond());
            s.append(String.format(Locale.ROOT, "<polyline fill='none' stroke='#333' stroke-width='1.5'%s points='%.1f,%.1f %.1f,%.1f %.1f,%.1f'/>", dash,
                    X.applyAsDouble(xs), Y.applyAsDouble(ya), X.applyAsDouble(ridge), Y.applyAsDouble(c.flopsPerSecond()), X.applyAsDouble(xb),
                    Y.applyAsDouble(c.flopsPerSecond())));
            s.append(text(w - right - 5, Y.applyAsDouble(c.flopsPerSecond()) - 5 - 14 * line++, c.label() + String.format(Locale.ROOT,
                    ": %.1f GB/s, %.1f GFLOP/s", c.bytesPerSecond() / 1e9, c.flopsPerSecond() / 1e9), "end", 10, "normal"));
        }
        for (double[] p : pts) {
            double x = X.applyAsDouble(p[0]), y = Y.applyAsDouble(p[1]);
            String color = COLORS[(int) p[3]];
            s.append(p[2] == 0 ? String.format(Locale.ROOT, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'/>", x, y, color)
                    : String.format(Locale.ROOT, "<rect x='%.1f' y='%.1f' width='8' height='8' fill='%s'/>", x - 4, y - 4, color));
        }
        int i = 0;
        for (String name : names) {
            if (ok.stream().noneMatch(r -> r.configuration().name().equals(name))) continue;
            double y = top + 14 + 14 * i;
            s.append(String.format(Locale.ROOT, "<rect x='%.0f' y='%.0f' width='9' height='9' fill='%s'/>", left + 8, y - 8, COLORS[names.indexOf(name) % COLORS.length]));
            s.append(text(left + 22, y, name, "start", 10, "normal"));
            i++;
        }
        return s.append("</svg>\n").toString();
    }

    private static String text(double x, double y, String t, String anchor, int size, String weight) {
        return String.format(Locale.ROOT, "<text x='%.1f' y='%.1f' font-size='%d' font-weight='%s' text-anchor='%s'>%s</text>", x, y, size, weight, anchor, esc(t));
    }

    static String fmt(double v) {
        if (!Double.isFinite(v)) return "–";
        double a = Math.abs(v);
        if (a == 0) return "0";
        if (a >= 1000) return String.format(Locale.ROOT, "%.0f", v);
        if (a >= 1) return String.format(Locale.ROOT, "%.3g", v);
        if (a >= 1e-3) return String.format(Locale.ROOT, "%.3g", v);
        return String.format(Locale.ROOT, "%.2e", v);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace("\"", "&quot;");
    }

    private static String template() {
        try (InputStream in = ReportWriter.class.getResourceAsStream("report.html")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("report template unreadable", e);
        }
    }
}
