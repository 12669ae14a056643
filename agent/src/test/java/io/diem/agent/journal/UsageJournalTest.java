package io.diem.agent.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.sign.NodeKey;
import io.diem.sign.ReceiptChain;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UsageJournalTest {

    @TempDir
    Path dir;
    final NodeKey key = NodeKey.generate();

    static UsageReceipt receipt(String jobId) {
        return UsageReceipt.newBuilder().setJobId(jobId).setCompletionTokens(3).setGpuMicros(100).build();
    }

    private static List<String> jobs(SignedEnvelope batch) throws IOException {
        return ReceiptBatch.parseFrom(batch.getPayload()).getReceiptsList().stream().map(UsageReceipt::getJobId).toList();
    }

    @Test
    void aReceiptAppendedWhileSealsAreHeldShipsOnlyAfterItsJobWasReported() throws Exception {
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
            java.util.concurrent.CountDownLatch appended = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch report = new java.util.concurrent.CountDownLatch(1);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<?> finisher = pool.submit(() -> {
                    j.holdingSeals(() -> {
                        j.append(receipt("a"));
                        appended.countDown();
                        report.await();
                        order.add("reported a");
                    });
                    return null;
                });
                appended.await();
                java.util.concurrent.atomic.AtomicReference<Thread> sealer = new java.util.concurrent.atomic.AtomicReference<>();
                Future<SignedEnvelope> sealed = pool.submit(() -> {
                    sealer.set(Thread.currentThread());
                    SignedEnvelope batch = j.seal(10, 1);
                    order.add("sealed " + jobs(batch));
                    return batch;
                });
                // The sealer blocks on the gate while the job is not yet reported.
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> sealer.get() != null
                        && sealer.get().getState() == Thread.State.WAITING);
                assertThat(sealed).isNotDone();
                report.countDown();
                finisher.get();
                assertThat(jobs(sealed.get())).containsExactly("a");
                assertThat(order).containsExactly("reported a", "sealed [a]");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void receiptsSurviveReopenAndAreSealedOnceIntoAChain() throws Exception {
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.append(receipt("a"))).isEqualTo(1);
            assertThat(j.append(receipt("b"))).isEqualTo(2);
        }
        SignedEnvelope first;
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.pendingReceipts()).isEqualTo(2);
            first = j.seal(10, 1);
            assertThat(jobs(first)).containsExactly("a", "b");
            assertThat(j.append(receipt("c"))).isEqualTo(3);
        }
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            // the sealed batch comes back byte-identical; only "c" is still pending
            assertThat(j.unacknowledged()).containsExactly(first);
            assertThat(j.pendingReceipts()).isEqualTo(1);
            SignedEnvelope second = j.seal(10, 2);
            assertThat(jobs(second)).containsExactly("c");
            ReceiptChain gateway = ReceiptChain.empty();
            gateway.accept(first, key.nodeId(), key.publicKey());
            gateway.accept(second, key.nodeId(), key.publicKey());
        }
    }

    @Test
    void acknowledgementCompactsAndSequencesContinueAfterIt() throws Exception {
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            for (int i = 0; i < 5; i++) {
                j.append(receipt("r" + i));
            }
            j.seal(2, 1);
            j.seal(2, 2);
            assertThat(j.unbookedReceipts()).isEqualTo(5); // 2 + 2 sealed, 1 pending
            j.acknowledge(1);
            assertThat(j.unacknowledgedBatches()).isEqualTo(1);
            assertThat(j.pendingReceipts()).isEqualTo(1);
            assertThat(j.unbookedReceipts()).isEqualTo(3);
        }
        long receiptsSize = Files.size(dir.resolve("receipts.log"));
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.acknowledgedSequence()).isEqualTo(1);
            assertThat(j.unacknowledgedBatches()).isEqualTo(1);
            assertThat(j.pendingReceipts()).isEqualTo(1);
            assertThat(j.unbookedReceipts()).isEqualTo(3); // counted again from the logs on reopen
            assertThat(j.append(receipt("r5"))).isEqualTo(6);
            SignedEnvelope third = j.seal(10, 3);
            assertThat(ReceiptBatch.parseFrom(third.getPayload()).getSequence()).isEqualTo(3);
            assertThat(jobs(third)).containsExactly("r4", "r5");
            j.acknowledge(3);
            assertThat(j.unacknowledgedBatches()).isZero();
        }
        assertThat(receiptsSize).isLessThan(5 * 20L);
        assertThat(Files.size(dir.resolve("batches.log"))).isZero();
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.append(receipt("r6"))).isEqualTo(7);
            assertThat(ReceiptBatch.parseFrom(j.seal(1, 4).getPayload()).getSequence()).isEqualTo(4);
        }
    }

    @Test
    void aTornLastWriteIsCutAndReported() throws Exception {
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            j.append(receipt("kept-1"));
            j.append(receipt("kept-2"));
        }
        Path log = dir.resolve("receipts.log");
        long good = Files.size(log);
        // a crash mid-append: a frame header promising more bytes than were written
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0, 0, 0, 40, 1, 2, 3, 4, 9, 9}));
        }
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.cutBytesOnOpen()).isEqualTo(10);
            assertThat(j.pendingReceipts()).isEqualTo(2);
            assertThat(Files.size(log)).isEqualTo(good);
            assertThat(j.append(receipt("after"))).isEqualTo(3);
        }
    }

    @Test
    void aCorruptedRecordIsNeverAccepted() throws Exception {
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            j.append(receipt("one"));
            j.append(receipt("two"));
        }
        Path log = dir.resolve("receipts.log");
        byte[] bytes = Files.readAllBytes(log);
        bytes[bytes.length - 3] ^= 0x40; // flip a bit inside the last record's payload
        Files.write(log, bytes);
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.pendingReceipts()).isEqualTo(1);
            assertThat(j.cutBytesOnOpen()).isPositive();
        }
    }

    @Test
    void aJournalOfAnotherKeyOrAlteredBatchRefusesToOpen() throws Exception {
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            j.append(receipt("x"));
            j.seal(10, 1);
        }
        assertThatThrownBy(() -> UsageJournal.open(dir, NodeKey.generate()))
                .isInstanceOf(IOException.class).hasMessageContaining("failed verification");
    }

    @Test
    void concurrentAppendsShareFsyncsAndLoseNothing() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            List<Future<Long>> futures = new ArrayList<>();
            for (int i = 0; i < 400; i++) {
                int n = i;
                futures.add(pool.submit(() -> j.append(receipt("c" + n))));
            }
            List<Long> seqs = new ArrayList<>();
            for (Future<Long> f : futures) {
                seqs.add(f.get());
            }
            assertThat(seqs).doesNotHaveDuplicates().hasSize(400);
        } finally {
            pool.shutdown();
        }
        try (UsageJournal j = UsageJournal.open(dir, key)) {
            assertThat(j.pendingReceipts()).isEqualTo(400);
        }
    }
}
