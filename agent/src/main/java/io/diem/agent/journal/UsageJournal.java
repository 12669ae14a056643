package io.diem.agent.journal;

import io.diem.common.OwnerOnly;
import io.diem.sign.Hashes;
import io.diem.sign.NodeKey;
import io.diem.sign.ReceiptChain;
import io.diem.sign.VerificationException;
import io.diem.v1.ReceiptBatch;
import io.diem.v1.SignedEnvelope;
import io.diem.v1.UsageReceipt;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Logger;

/**
 * The node's usage journal: nothing lost, nothing twice.
 *
 * <ul>
 *   <li>{@code receipts.log}: every finished job's receipt with a local sequence number, durable
 *       (group-committed fsync) before the job is reported done.</li>
 *   <li>{@code batches.log}: each signed, hash-chained batch exactly as sealed, with the last receipt
 *       sequence it covers, durable before it is first sent, so a resend after a crash is
 *       byte-identical and the chain never forks.</li>
 *   <li>{@code checkpoint}: the gateway's last acknowledged batch (sequence, hash) and the receipts it
 *       covers; written atomically before the logs are compacted to what is not yet acknowledged.</li>
 * </ul>
 * On open everything is replayed: torn tails are cut (and reported), and the stored batches are
 * verified against the node key and the chain; a journal that fails verification refuses to open.
 */
public final class UsageJournal implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(UsageJournal.class.getName());

    /** A stored batch and the last receipt sequence it covers. */
    private record Sealed(SignedEnvelope envelope, long sequence, long coveredReceipt, int receipts) {}

    private record Pending(long sequence, UsageReceipt receipt) {}

    private final Path dir;
    private final NodeKey key;
    private final RecordLog receipts;
    private final RecordLog batches;
    private final List<Pending> pending = new ArrayList<>();
    private final List<Sealed> unacked = new ArrayList<>();
    private ReceiptChain chain;
    private long nextReceipt;
    private long ackedSequence;
    private byte[] ackedHash;
    private long ackedCoveredReceipt;
    private long coveredReceipt;
    private final long cutBytes;
    /** Shared while a job's receipt is appended and its job reported; exclusive while sealing ({@link #holdingSeals}). */
    private final ReentrantReadWriteLock sealGate = new ReentrantReadWriteLock();

    /** A step run with sealing held off. */
    @FunctionalInterface
    public interface Step<E extends Exception> {
        void run() throws E;
    }

    private UsageJournal(Path dir, NodeKey key, RecordLog receipts, RecordLog batches, long cutBytes) {
        this.dir = dir;
        this.key = key;
        this.receipts = receipts;
        this.batches = batches;
        this.cutBytes = cutBytes;
    }

    /** Reports each fsync of the receipt and batch logs (ns) to {@code listener}. */
    public void onFsync(java.util.function.LongConsumer listener) {
        receipts.fsyncNanos = listener;
        batches.fsyncNanos = listener;
    }

    public static UsageJournal open(Path dir, NodeKey key) throws IOException {
        OwnerOnly.directory(dir);
        Checkpoint checkpoint = Checkpoint.read(dir.resolve("checkpoint"));
        long ackedSeq = checkpoint.sequence();
        long ackedCovered = checkpoint.coveredReceipt();
        byte[] ackedHash = checkpoint.hash();

        List<byte[]> receiptRecords = new ArrayList<>();
        RecordLog receiptLog = RecordLog.open(dir.resolve("receipts.log"), receiptRecords);
        List<byte[]> batchRecords = new ArrayList<>();
        RecordLog batchLog;
        try {
            batchLog = RecordLog.open(dir.resolve("batches.log"), batchRecords);
        } catch (IOException e) {
            receiptLog.close();
            throw e;
        }
        UsageJournal j = new UsageJournal(dir, key, receiptLog, batchLog, receiptLog.cutAtOpen() + batchLog.cutAtOpen());
        j.ackedSequence = ackedSeq;
        j.ackedHash = ackedHash;
        j.ackedCoveredReceipt = ackedCovered;
        j.coveredReceipt = ackedCovered;
        j.nextReceipt = ackedCovered + 1;
        try {
            // Batches: verify signature and chain from the checkpoint on; skip what was acknowledged.
            ReceiptChain verify = new ReceiptChain(ackedSeq, ackedHash);
            for (byte[] record : batchRecords) {
                ByteBuffer b = ByteBuffer.wrap(record);
                long covered = b.getLong();
                byte[] envelopeBytes = new byte[b.remaining()];
                b.get(envelopeBytes);
                SignedEnvelope envelope = SignedEnvelope.parseFrom(envelopeBytes);
                ReceiptBatch batch = ReceiptBatch.parseFrom(envelope.getPayload());
                if (batch.getSequence() <= ackedSeq) {
                    continue;
                }
                verify.accept(envelope, key.nodeId(), key.publicKey());
                j.unacked.add(new Sealed(envelope, batch.getSequence(), covered, batch.getReceiptsCount()));
                j.coveredReceipt = Math.max(j.coveredReceipt, covered);
            }
            j.chain = verify; // sealing continues from the last stored batch
            j.nextReceipt = Math.max(j.nextReceipt, j.coveredReceipt + 1);
            // Receipts: those not yet in a batch are pending.
            for (byte[] record : receiptRecords) {
                ByteBuffer b = ByteBuffer.wrap(record);
                long seq = b.getLong();
                byte[] receiptBytes = new byte[b.remaining()];
                b.get(receiptBytes);
                j.nextReceipt = Math.max(j.nextReceipt, seq + 1);
                if (seq > j.coveredReceipt) {
                    j.pending.add(new Pending(seq, UsageReceipt.parseFrom(receiptBytes)));
                }
            }
        } catch (VerificationException e) {
            j.close();
            throw new IOException("usage journal in " + dir + " failed verification (" + e.reason() + "): " + e.getMessage()
                    + "; it was not written by this node key or was altered", e);
        } catch (IOException | RuntimeException e) {
            j.close();
            throw new IOException("usage journal in " + dir + " is unreadable: " + e.getMessage(), e);
        }
        if (j.cutBytes > 0) {
            LOG.warning("usage journal: cut a torn last write of " + j.cutBytes + " bytes (a crash during an append); "
                    + "every receipt reported done was synced before that and is kept");
        }
        return j;
    }

    /** Appends a receipt and returns its local sequence once it is on disk. */
    public long append(UsageReceipt receipt) throws IOException {
        long seq;
        long position;
        byte[] bytes = receipt.toByteArray();
        synchronized (this) {
            seq = nextReceipt++;
            ByteBuffer b = ByteBuffer.allocate(8 + bytes.length).putLong(seq).put(bytes);
            position = receipts.append(b.array());
            pending.add(new Pending(seq, receipt));
        }
        receipts.sync(position); // outside the lock: concurrent appenders share one fsync
        return seq;
    }

    /**
     * Seals up to {@code max} pending receipts into the next signed batch and makes it durable; null
     * when nothing is pending. Only receipts already synced are ever sealed (append syncs before it
     * returns, and sealing syncs the receipts log first).
     */
    public SignedEnvelope seal(int max, long nowMicros) throws IOException {
        sealGate.writeLock().lock();
        try {
            synchronized (this) {
                return sealPending(max, nowMicros);
            }
        } finally {
            sealGate.writeLock().unlock();
        }
    }

    /**
     * Runs {@code step} with sealing held off: a receipt it appends goes into a batch only after it
     * returns. A job's receipt is appended and its caller told the job is done inside one step, so the
     * gateway always receives a job's last event before the batch with its receipt, and books that
     * receipt against what it relayed.
     */
    public <E extends Exception> void holdingSeals(Step<E> step) throws E {
        sealGate.readLock().lock();
        try {
            step.run();
        } finally {
            sealGate.readLock().unlock();
        }
    }

    private SignedEnvelope sealPending(int max, long nowMicros) throws IOException {
        if (pending.isEmpty()) {
            return null;
        }
        int n = Math.min(max, pending.size());
        List<UsageReceipt> batch = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            batch.add(pending.get(i).receipt());
        }
        long covered = pending.get(n - 1).sequence();
        receipts.sync(Long.MAX_VALUE);
        SignedEnvelope envelope = chain.seal(key, batch, nowMicros);
        byte[] envelopeBytes = envelope.toByteArray();
        batches.appendDurably(ByteBuffer.allocate(8 + envelopeBytes.length).putLong(covered).put(envelopeBytes).array());
        pending.subList(0, n).clear();
        coveredReceipt = covered;
        unacked.add(new Sealed(envelope, chain.lastSequence(), covered, n));
        return envelope;
    }

    /** Sealed batches the gateway has not acknowledged, oldest first (to send, or resend, in order). */
    public synchronized List<SignedEnvelope> unacknowledged() {
        return unacked.stream().map(Sealed::envelope).toList();
    }

    /** Whether a receipt of {@code jobId} is pending or in a batch the gateway has not acknowledged. */
    public synchronized boolean holds(String jobId) {
        if (pending.stream().anyMatch(p -> p.receipt().getJobId().equals(jobId))) {
            return true;
        }
        for (Sealed s : unacked) {
            try {
                if (io.diem.v1.ReceiptBatch.parseFrom(s.envelope().getPayload()).getReceiptsList().stream()
                        .anyMatch(r -> r.getJobId().equals(jobId))) {
                    return true;
                }
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalStateException("a sealed batch in the journal does not parse", e); // verified when the journal opened
            }
        }
        return false;
    }

    /**
     * Records the gateway's acknowledgement of every batch up to {@code sequence} and compacts the
     * logs to what is still unacknowledged.
     */
    public synchronized void acknowledge(long sequence) throws IOException {
        if (sequence <= ackedSequence) {
            return;
        }
        if (sequence > chain.lastSequence()) {
            throw new IOException("gateway acknowledged batch " + sequence + " but this node has sealed only "
                    + chain.lastSequence() + "; is the node key or state directory shared with another node?");
        }
        Sealed last = null;
        while (!unacked.isEmpty() && unacked.get(0).sequence() <= sequence) {
            last = unacked.remove(0);
        }
        if (last == null) {
            return;
        }
        ackedSequence = last.sequence();
        ackedHash = Hashes.sha256(last.envelope().getPayload().toByteArray());
        ackedCoveredReceipt = last.coveredReceipt();
        writeCheckpoint();
        // Compact: receipts not yet sealed stay in receipts.log; sealed-but-unacknowledged ones live
        // on inside their batch records. The checkpoint above already covers everything dropped.
        List<byte[]> keepReceipts = new ArrayList<>();
        for (Pending p : pending) {
            byte[] bytes = p.receipt().toByteArray();
            keepReceipts.add(ByteBuffer.allocate(8 + bytes.length).putLong(p.sequence()).put(bytes).array());
        }
        List<byte[]> keepBatches = new ArrayList<>();
        for (Sealed s : unacked) {
            byte[] e = s.envelope().toByteArray();
            keepBatches.add(ByteBuffer.allocate(8 + e.length).putLong(s.coveredReceipt()).put(e).array());
        }
        batches.replaceWith(keepBatches);
        receipts.replaceWith(keepReceipts);
    }

    private void writeCheckpoint() throws IOException {
        OwnerOnly.writeAtomically(dir.resolve("checkpoint"), ackedSequence + " " + Hashes.hex(ackedHash) + " "
                + ackedCoveredReceipt + "\n");
        RecordLog.syncDirectory(dir);
    }

    /**
     * The last batch the gateway acknowledged, as the file {@code checkpoint} keeps it:
     * {@code "<sequence> <hash hex> <last receipt covered>"}; none yet when the file is absent.
     */
    private record Checkpoint(long sequence, byte[] hash, long coveredReceipt) {

        static Checkpoint read(Path file) throws IOException {
            if (!Files.exists(file)) {
                return new Checkpoint(0, ReceiptChain.GENESIS_HASH.clone(), 0);
            }
            String[] parts = Files.readString(file, StandardCharsets.US_ASCII).trim().split(" ");
            long sequence;
            long covered;
            try {
                sequence = Long.parseLong(parts[0]);
                covered = Long.parseLong(parts[2]);
            } catch (RuntimeException e) {
                throw new IOException("journal checkpoint " + file + " is corrupt: '" + String.join(" ", parts) + "'");
            }
            try {
                byte[] hash = Hashes.unhex(parts[1]);
                if (hash.length != Hashes.SHA256_BYTES) {
                    throw new IllegalArgumentException("hash length " + hash.length);
                }
                return new Checkpoint(sequence, hash, covered);
            } catch (RuntimeException e) {
                throw new IOException("journal checkpoint " + file + " is corrupt: " + e.getMessage());
            }
        }
    }

    public synchronized int pendingReceipts() {
        return pending.size();
    }

    /** Receipts no gateway has acknowledged: pending ones and those in unacknowledged batches. */
    public synchronized int unbookedReceipts() {
        int n = pending.size();
        for (Sealed s : unacked) {
            n += s.receipts();
        }
        return n;
    }

    public synchronized int unacknowledgedBatches() {
        return unacked.size();
    }

    public synchronized long acknowledgedSequence() {
        return ackedSequence;
    }

    public synchronized long lastSealedSequence() {
        return chain.lastSequence();
    }

    /** Bytes of torn writes cut off when this journal was opened. */
    public long cutBytesOnOpen() {
        return cutBytes;
    }

    @Override
    public synchronized void close() throws IOException {
        try {
            receipts.close();
        } finally {
            batches.close();
        }
    }
}
