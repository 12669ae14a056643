package io.diem.agent.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy when the temperature is 0, otherwise a draw from the
 * softmax of {@code logits / temperature} restricted to the top-k and then to the top-p nucleus.
 * One sampler per sequence; its random stream is fixed by the seed.
 */
public final class Sampler {

    private final SamplingParams params;
    private final SplittableRandom random;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
    }

    public int next(float[] logits) {
        if (params.temperature() == 0) {
            return argmax(logits);
        }
        return sample(logits, random.nextDouble());
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The token whose cumulative probability first exceeds {@code coin}, over the filtered distribution. */
    int sample(float[] logits, double coin) {
        int n = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        // Candidates sorted by logit, most likely first; only as many as top-k (or all) need sorting.
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        int keep = params.topK() > 0 ? Math.min(params.topK(), n) : n;
        double[] probs = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp((logits[i] - max) / params.temperature());
            sum += probs[i];
        }
        if (keep < n || params.topP() < 1) {
            // Tokens below (1 - top_p) / (n - 1) of the mass can never be in the nucleus: skip sorting them.
            double cutoff = keep == n && n > 1 ? (1 - params.topP()) / (n - 1) * sum : 0;
            int m = 0;
            for (int i = 0; i < n; i++) {
                if (probs[i] >= cutoff) {
                    order[m++] = i;
                }
            }
            Integer[] candidates = Arrays.copyOf(order, m);
            Arrays.sort(candidates, (a, b) -> probs[a] != probs[b] ? Double.compare(probs[b], probs[a]) : Integer.compare(a, b));
            keep = Math.min(keep, m);
            double kept = 0;
            for (int i = 0; i < keep; i++) {
                kept += probs[candidates[i]];
            }
            if (params.topP() < 1) {
                double target = params.topP() * kept;
                double running = 0;
                for (int i = 0; i < keep; i++) {
                    running += probs[candidates[i]];
                    if (running >= target) {
                        keep = i + 1;
                        kept = running;
                        break;
                    }
                }
            }
            double threshold = coin * kept;
            double running = 0;
            for (int i = 0; i < keep; i++) {
                running += probs[candidates[i]];
                if (running > threshold) {
                    return candidates[i];
                }
            }
            return candidates[keep - 1];
        }
        double threshold = coin * sum;
        double running = 0;
        for (int i = 0; i < n; i++) {
            running += probs[i];
            if (running > threshold) {
                return i;
            }
        }
        return argmax(logits);
    }
}
