package io.diem.gateway.ledger;

/**
 * The DIEM mint curve. The marginal price in sVVV of one DIEM at supply {@code s} is
 * {@code rate(s) = base / (1 − (s/T)^p)^(1/p)}; minting {@code q} at supply {@code S} costs the
 * integral of {@code rate} from {@code S} to {@code S + q}.
 *
 * <p>Exactness and order independence: the ledger never integrates piecewise. It evaluates the
 * cumulative cost {@code C(S) = ⌈∫₀^S rate⌉} in µVVV (closed form {@code base·T·asin(S/T)} for
 * {@code p = 2}, adaptive Simpson otherwise) and charges {@code C(S+q) − C(S)}. The differences
 * telescope, so one mint of 10 costs exactly what ten mints of 1 cost, to the µVVV.
 */
public final class MintCurve {

    private final double base;
    private final double asymptote;
    private final double p;

    /**
     * @param base sVVV per DIEM at zero supply (default 90)
     * @param asymptote supply T that the curve approaches and never reaches, in DIEM (default 38,000)
     * @param p the curve's exponent (default 2)
     */
    public MintCurve(double base, double asymptote, double p) {
        if (!(base > 0) || !(asymptote > 0) || !(p > 0)) {
            throw new IllegalArgumentException("mint curve needs base, T and p > 0, got " + base + ", " + asymptote + ", " + p);
        }
        this.base = base;
        this.asymptote = asymptote;
        this.p = p;
    }

    public static MintCurve defaults() {
        return new MintCurve(90, 38_000, 2);
    }

    /** Asymptotic supply T in µDIEM: no supply may reach it. */
    public long asymptoteMicro() {
        return (long) Math.floor(asymptote * Units.MICRO);
    }

    /** Marginal sVVV per DIEM at a supply of {@code supplyMicro} µDIEM. */
    public double rate(long supplyMicro) {
        double x = supplyMicro / Units.MICRO / asymptote;
        return base / Math.pow(1 - Math.pow(x, p), 1 / p);
    }

    /** Cumulative cost C(S) in µVVV of minting from zero to {@code supplyMicro}, rounded up. */
    public long cumulativeCostMicro(long supplyMicro) {
        if (supplyMicro < 0 || supplyMicro >= asymptoteMicro()) {
            throw new IllegalArgumentException("supply " + supplyMicro + " µDIEM is outside [0, T)");
        }
        double s = supplyMicro / Units.MICRO;
        double vvv = p == 2 ? base * asymptote * Math.asin(s / asymptote) : integrate(s);
        return (long) Math.ceil(vvv * Units.MICRO - 1e-6); // tolerate float noise just above an integer
    }

    /** µVVV cost of minting {@code amountMicro} µDIEM at supply {@code supplyMicro}. */
    public long costMicro(long supplyMicro, long amountMicro) {
        return cumulativeCostMicro(Math.addExact(supplyMicro, amountMicro)) - cumulativeCostMicro(supplyMicro);
    }

    /** True when minting {@code amountMicro} at {@code supplyMicro} stays below the asymptote. */
    public boolean fits(long supplyMicro, long amountMicro) {
        return amountMicro < asymptoteMicro() - supplyMicro;
    }

    /** ∫₀^s rate(x) dx in VVV (s in DIEM) by adaptive Simpson: the general-p path. */
    double integrate(double s) {
        return simpson(0, s, f(0), f(s / 2), f(s), 1e-9, 50);
    }

    private double f(double x) {
        return base / Math.pow(1 - Math.pow(x / asymptote, p), 1 / p);
    }

    private double simpson(double a, double b, double fa, double fm, double fb, double eps, int depth) {
        double m = (a + b) / 2;
        double whole = (b - a) / 6 * (fa + 4 * fm + fb);
        double flm = f((a + m) / 2);
        double frm = f((m + b) / 2);
        double left = (m - a) / 6 * (fa + 4 * flm + fm);
        double right = (b - m) / 6 * (fm + 4 * frm + fb);
        if (depth <= 0 || Math.abs(left + right - whole) <= 15 * eps) {
            return left + right + (left + right - whole) / 15;
        }
        return simpson(a, m, fa, flm, fm, eps / 2, depth - 1) + simpson(m, b, fm, frm, fb, eps / 2, depth - 1);
    }
}
