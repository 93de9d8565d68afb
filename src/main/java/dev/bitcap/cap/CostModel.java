package dev.bitcap.cap;

import dev.bitcap.BitcapException;

/**
 * Dollars for a run. {@link Formula#AMORTISED}: the device's price spread over its service life (the share of the
 * run's wall time) plus the energy it draws (power × time × $/kWh). {@link Formula#MOECAP}: the public MoE-CAP
 * code's cost, 1.2·E + 1.25·K, where K is the purchase price of the GPUs plus a $7,214 CPU host and E is the energy
 * of the GPUs plus a 350 W host at $0.15/kWh; the price is not amortised, so it dominates any run.
 *
 * @param lifetimeYears  service life over which the price is spread
 * @param utilisation    share of that life the device is busy (1 = always)
 * @param usdPerKwh      electricity price
 * @param devices        devices the run used
 */
public record CostModel(Formula formula, double lifetimeYears, double utilisation, double usdPerKwh, int devices) {
    public enum Formula {
        AMORTISED("amortised"), MOECAP("moecap");

        private final String cliName;

        Formula(String cliName) {
            this.cliName = cliName;
        }

        public String cliName() {
            return cliName;
        }

        public static Formula byName(String name) {
            for (Formula f : values()) if (f.cliName.equals(name)) return f;
            throw new BitcapException("unknown cost formula '" + name + "' (valid: amortised, moecap)");
        }
    }

    static final double MOECAP_HOST_PRICE_USD = 7214;
    static final double MOECAP_HOST_POWER_W = 350;
    static final double MOECAP_USD_PER_KWH = 0.15;
    static final double SECONDS_PER_YEAR = 365.25 * 24 * 3600;

    public CostModel {
        if (!(lifetimeYears > 0)) throw new BitcapException("cost lifetime_years must be > 0, got " + lifetimeYears);
        if (!(utilisation > 0 && utilisation <= 1)) throw new BitcapException("cost utilisation must be in (0, 1], got " + utilisation);
        if (!(usdPerKwh >= 0)) throw new BitcapException("cost usd_per_kwh must be >= 0, got " + usdPerKwh);
        if (devices < 1) throw new BitcapException("cost devices must be >= 1, got " + devices);
    }

    public static CostModel defaults() {
        return new CostModel(Formula.AMORTISED, 3, 1, 0.15, 1);
    }

    /** Dollars for {@code seconds} of wall time on a device of the given price and power (NaN when either is unknown). */
    public double usd(double seconds, Double priceUsd, Double powerW) {
        if (priceUsd == null || powerW == null) return Double.NaN;
        return switch (formula) {
            case AMORTISED -> devices * (priceUsd * seconds / (lifetimeYears * SECONDS_PER_YEAR * utilisation)
                    + powerW * seconds / 3.6e6 * usdPerKwh);
            case MOECAP -> {
                double energy = (devices * powerW + MOECAP_HOST_POWER_W) / 1000 * MOECAP_USD_PER_KWH * seconds / 3600;
                double capital = devices * priceUsd + MOECAP_HOST_PRICE_USD;
                yield 1.2 * energy + 1.25 * capital;
            }
        };
    }

    /** Dollars per million tokens when {@code tokens} took {@code seconds}. */
    public double usdPerMillionTokens(double seconds, long tokens, Double priceUsd, Double powerW) {
        return usd(seconds, priceUsd, powerW) / tokens * 1e6;
    }
}
