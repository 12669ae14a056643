package io.diem.bench;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.engine.Sequence;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.model.TestModelMaker;
import io.diem.agent.serve.AgentNode;
import io.diem.v1.ComputeKind;
import io.grpc.InsecureChannelCredentials;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Benchmark code, not a product path: the real node agent (sessions, ticket checks, journal, signed
 * receipt batches) whose devices compute nothing. Each {@link InstantEngine} sequence answers a step
 * at once with the same logits, so a call's cost is the gateway's and the node's bookkeeping alone.
 */
final class StandInNode {

    private StandInNode() {}

    /** An engine whose steps take no time: fixed logits, 1 µs of metered compute per step. */
    static final class InstantEngine implements InferenceEngine {
        private final int index;

        InstantEngine(int index) {
            this.index = index;
        }

        @Override
        public String name() {
            return "cpu";
        }

        @Override
        public String device() {
            return "standin" + index;
        }

        @Override
        public ComputeKind computeKind() {
            return ComputeKind.COMPUTE_KIND_CPU;
        }

        @Override
        public int parallelism() {
            return 1;
        }

        @Override
        public Sequence newSequence(Model model, int capacity) {
            float[] logits = new float[model.config().vocabSize];
            logits[logits.length / 2] = 1f; // greedy picks one ordinary token
            return new Sequence() {
                private int position;

                @Override
                public int position() {
                    return position;
                }

                @Override
                public int capacity() {
                    return capacity;
                }

                @Override
                public float[] step(int[] tokens) {
                    Sequence.checkStep(tokens, position, capacity, logits.length);
                    position += tokens.length;
                    return logits;
                }

                @Override
                public long kvCacheBytes() {
                    return 0;
                }

                @Override
                public long lastStepComputeNanos() {
                    return 1_000;
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public void close() {}
    }

    /** Starts a node with {@code devices} instant devices serving a tiny model as "tiny", with sessions to {@code gateways}. */
    static AgentNode start(Path dir, List<String> gateways, int devices) throws IOException, InterruptedException {
        Path modelDir = dir.resolve("tiny");
        TestModelMaker.make(modelDir, TestModelMaker.Options.of(TestModelMaker.Preset.parse("tiny"), 7));
        Model model = new ModelLoader(new java.io.PrintStream(java.io.OutputStream.nullOutputStream())).load(modelDir, "tiny");
        List<InferenceEngine> engines = new ArrayList<>();
        for (int i = 0; i < devices; i++) {
            engines.add(new InstantEngine(i));
        }
        return new AgentNode(null, new AgentNode.Settings(dir.resolve("node"), gateways, InsecureChannelCredentials.create(),
                Map.of("tiny", model), engines, 256, "127.0.0.1", 0, "bench"), Clock.systemUTC()).start();
    }
}
