package dev.bitcap.cap;

import java.util.ArrayList;
import java.util.List;

/**
 * Radii of the CAP radar as MoE-CAP's plotting code normalises them: 0 to 100 with a baseline β = 20, further out is
 * better on every axis. Performance (TPOT): β + (max − v)/(max − min)·(100 − β) over the plotted systems. Cost:
 * β + (T − min(v, T))/T·(100 − β), T being the second-to-last tick of the cost axis. Accuracy (a fraction):
 * β + (v − min)/(1 − min)·(100 − β).
 */
public final class RadarScale {
    public static final double BASELINE = 20;

    private RadarScale() {}

    public static double[] performance(double[] tpot) {
        double min = min(tpot), max = max(tpot);
        double[] r = new double[tpot.length];
        for (int i = 0; i < r.length; i++) r[i] = max == min ? 100 : BASELINE + (max - tpot[i]) / (max - min) * (100 - BASELINE);
        return r;
    }

    public static double[] cost(double[] cost) {
        List<Double> ticks = ticks(max(cost));
        double t = ticks.get(ticks.size() - 2);
        double[] r = new double[cost.length];
        for (int i = 0; i < r.length; i++) r[i] = BASELINE + (t - Math.min(cost[i], t)) / t * (100 - BASELINE);
        return r;
    }

    public static double[] accuracy(double[] acc) {
        double min = min(acc);
        double[] r = new double[acc.length];
        for (int i = 0; i < r.length; i++) r[i] = min >= 1 ? 100 : BASELINE + (acc[i] - min) / (1 - min) * (100 - BASELINE);
        return r;
    }

    /** Ticks from 0 in steps of 1, 2, 2.5 or 5 × 10ᵏ (about four to cover {@code max}), up to the first tick ≥ max, plus one more. */
    public static List<Double> ticks(double max) {
        if (!(max > 0)) return List.of(0.0, 1.0, 2.0);
        double raw = max / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag * 10;
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        }
        List<Double> ticks = new ArrayList<>();
        int k = 0;
        do {
            ticks.add(k * step);
        } while (k++ * step < max * (1 - 1e-12));
        ticks.add(k * step);
        return ticks;
    }

    private static double min(double[] v) {
        double m = Double.POSITIVE_INFINITY;
        for (double x : v) m = Math.min(m, x);
        return m;
    }

    private static double max(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) m = Math.max(m, x);
        return m;
    }
}
