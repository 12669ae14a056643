package io.diem.bench;

import io.diem.agent.journal.UsageJournal;
import io.diem.sign.NodeKey;
import io.diem.sign.ReceiptChain;
import io.diem.v1.ComputeKind;
import io.diem.v1.FinishReason;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Journal throughput, durability on: receipt appends per second (each returns only after its fsync;
 * concurrent appenders share fsyncs) from 1 and 8 threads, and receipts per second through sealing
 * (sign + durable batch write) and the gateway-side chain verification, in batches of 500.
 * Run by scripts/bench-journal.sh; the directory should be on the disk the agent's state will use.
 */
public final class JournalBenchmark {

    private JournalBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path base = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("journal-bench");
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 3;
        NodeKey key = NodeKey.generate();
        try {
            for (int threads : new int[] {1, 8}) {
                Path dir = base.resolve("appends-" + threads);
                try (UsageJournal journal = UsageJournal.open(dir, key)) {
                    double rate = appends(journal, threads, seconds);
                    System.out.printf("appends   threads=%d  %.0f receipts/s durable (group commit)%n", threads, rate);
                }
            }
            Path dir = base.resolve("ship");
            try (UsageJournal journal = UsageJournal.open(dir, key)) {
                int n = 20_000;
                for (int i = 0; i < n; i++) {
                    journal.append(receipt("ship-" + i));
                }
                ReceiptChain gateway = ReceiptChain.empty();
                long start = System.nanoTime();
                int shipped = 0;
                SignedEnvelope batch;
                while ((batch = journal.seal(500, System.currentTimeMillis() * 1000)) != null) {
                    shipped += gateway.accept(SignedEnvelope.parseFrom(batch.toByteArray()), key.nodeId(), key.publicKey())
                            .getReceiptsCount();
                    journal.acknowledge(gateway.lastSequence());
                }
                double rate = shipped / ((System.nanoTime() - start) / 1e9);
                System.out.printf("shipping  %d receipts in batches of 500: %.0f receipts/s (seal, sign, fsync, verify, ack)%n",
                        shipped, rate);
            }
        } finally {
            if (args.length == 0) {
                try (var files = Files.walk(base)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    private static double appends(UsageJournal journal, int threads, double seconds) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        AtomicLong done = new AtomicLong();
        long start = System.nanoTime();
        long end = start + (long) (seconds * 1e9);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            futures.add(pool.submit(() -> {
                long i = 0;
                while (System.nanoTime() < end) {
                    journal.append(receipt("t" + thread + "-" + i++));
                    done.incrementAndGet();
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        pool.shutdown();
        return seconds == 0 ? 0 : done.get() / ((System.nanoTime() - start) / 1e9);
    }

    static UsageReceipt receipt(String jobId) {
        return UsageReceipt.newBuilder().setJobId(jobId).setNodeId("node-bench").setAccountRef("acct-ref").setModel("bench")
                .setFinishReason(FinishReason.FINISH_REASON_LENGTH).setPromptTokens(120).setCompletionTokens(256)
                .setGpuMicros(1_234_567).setComputeKind(ComputeKind.COMPUTE_KIND_GPU).setGpusUsed(1)
                .setStartedAtUnixMicros(1_795_000_000_000_000L).setFinishedAtUnixMicros(1_795_000_001_234_567L).build();
    }
}
