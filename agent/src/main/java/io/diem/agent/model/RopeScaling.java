package io.diem.agent.model;

/**
 * How rotary position frequencies are adjusted for long contexts.
 *
 * <ul>
 *   <li>{@code NONE}: {@code inv_freq[i] = theta^(-2i/d)}.</li>
 *   <li>{@code LINEAR}: every frequency divided by {@code factor}.</li>
 *   <li>{@code LLAMA3}: wavelengths longer than {@code originalMaxPositions / lowFreqFactor} are divided
 *       by {@code factor}, shorter than {@code originalMaxPositions / highFreqFactor} are kept, and the
 *       band between is interpolated smoothly (Llama 3.1/3.2).</li>
 * </ul>
 */
public record RopeScaling(Kind kind, double factor, double lowFreqFactor, double highFreqFactor,
        int originalMaxPositions) {

    public enum Kind { NONE, LINEAR, LLAMA3 }

    public static final RopeScaling NONE = new RopeScaling(Kind.NONE, 1, 1, 1, 0);

    /** The inverse frequencies, one per pair of dimensions ({@code headDim / 2} values). */
    public double[] inverseFrequencies(int headDim, double theta) {
        int half = headDim / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            double freq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            inv[i] = switch (kind) {
                case NONE -> freq;
                case LINEAR -> freq / factor;
                case LLAMA3 -> llama3(freq);
            };
        }
        return inv;
    }

    private double llama3(double freq) {
        double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
        double highFreqWavelen = originalMaxPositions / highFreqFactor;
        double wavelen = 2 * Math.PI / freq;
        if (wavelen < highFreqWavelen) {
            return freq;
        }
        if (wavelen > lowFreqWavelen) {
            return freq / factor;
        }
        double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * freq / factor + smooth * freq;
    }
}
