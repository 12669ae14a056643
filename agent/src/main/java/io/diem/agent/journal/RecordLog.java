package io.diem.agent.journal;

import io.diem.common.Channels;
import io.diem.common.OwnerOnly;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * An append-only file of framed records: {@code [u32 length][u32 CRC-32C of payload][payload]}.
 * Appends are made durable with group commit: a writer that needs its record on disk waits for one
 * {@code fsync} that covers it, and one fsync covers every record written before it. On open, the
 * records are read back; a torn last write (short frame, or a CRC that does not match) is detected,
 * reported and cut off, never accepted.
 */
final class RecordLog implements AutoCloseable {

    /** Told how long each group-commit fsync took (ns): the journal's durability latency, for metrics. */
    volatile java.util.function.LongConsumer fsyncNanos = n -> {};


    static final int MAX_RECORD = 16 << 20;


    private final Path path;
    private FileChannel channel;
    private final Object writeLock = new Object();
    private final Object syncLock = new Object();
    private volatile long written;
    private long synced;
    /** Bytes of a torn last write cut off when the log was opened (0 when it ended cleanly). */
    private final long cutAtOpen;

    private RecordLog(Path path, FileChannel channel, long size, long cutAtOpen) {
        this.path = path;
        this.channel = channel;
        this.written = size;
        this.synced = size;
        this.cutAtOpen = cutAtOpen;
    }

    /** Opens (creating) the log, adds the records it held to {@code into}; a torn tail is truncated away. */
    static RecordLog open(Path path, List<byte[]> into) throws IOException {
        FileChannel ch = FileChannel.open(path, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
                OwnerOnly.fileAttribute());
        OwnerOnly.restrict(path); // a log created before the journal was owner-only
        try {
            long size = ch.size();
            long good = 0;
            ByteBuffer header = ByteBuffer.allocate(8);
            CRC32C crc = new CRC32C();
            while (good + 8 <= size) {
                header.clear();
                Channels.readFully(ch, header, good);
                int length = header.getInt(0);
                int expected = header.getInt(4);
                if (length < 0 || length > MAX_RECORD || good + 8 + length > size) {
                    break;
                }
                ByteBuffer payload = ByteBuffer.allocate(length);
                Channels.readFully(ch, payload, good + 8);
                crc.reset();
                crc.update(payload.array());
                if ((int) crc.getValue() != expected) {
                    break;
                }
                into.add(payload.array());
                good += 8 + length;
            }
            if (good < size) {
                ch.truncate(good);
                ch.force(true);
            }
            ch.position(good);
            return new RecordLog(path, ch, good, size - good);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    long cutAtOpen() {
        return cutAtOpen;
    }

    static byte[] frame(byte[] payload) {
        if (payload.length > MAX_RECORD) {
            throw new IllegalArgumentException("record of " + payload.length + " bytes exceeds " + MAX_RECORD);
        }
        CRC32C crc = new CRC32C();
        crc.update(payload);
        ByteBuffer b = ByteBuffer.allocate(8 + payload.length);
        b.putInt(payload.length).putInt((int) crc.getValue()).put(payload);
        return b.array();
    }

    /** Appends one record and returns once it is on disk. */
    void appendDurably(byte[] payload) throws IOException {
        sync(append(payload));
    }

    /** Appends one record (not yet durable); returns the file position that must be synced for it. */
    long append(byte[] payload) throws IOException {
        ByteBuffer framed = ByteBuffer.wrap(frame(payload));
        synchronized (writeLock) {
            while (framed.hasRemaining()) {
                channel.write(framed);
            }
            written = channel.position();
            return written;
        }
    }

    /** Returns once every byte up to {@code position} is on disk (one fsync serves all waiting writers). */
    void sync(long position) throws IOException {
        synchronized (syncLock) {
            if (synced >= position) {
                return;
            }
            long target = written;
            long start = System.nanoTime();
            channel.force(false);
            fsyncNanos.accept(System.nanoTime() - start);
            synced = target;
        }
    }

    /**
     * Replaces this log's contents with exactly {@code payloads}, atomically (a crash leaves either
     * the old or the new file), and continues appending to the new file.
     */
    void replaceWith(List<byte[]> payloads) throws IOException {
        synchronized (writeLock) {
            synchronized (syncLock) {
                rewrite(path, payloads);
                channel.close();
                channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
                long size = channel.size();
                channel.position(size);
                written = size;
                synced = size;
            }
        }
    }

    /** Atomically replaces the file at {@code path} with exactly these records (temp file, fsync, rename). */
    static void rewrite(Path path, List<byte[]> payloads) throws IOException {
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                OwnerOnly.fileAttribute())) {
            for (byte[] p : payloads) {
                ByteBuffer b = ByteBuffer.wrap(frame(p));
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
            ch.force(true);
        }
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(path.toAbsolutePath().getParent());
    }

    static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Some filesystems cannot fsync a directory; the rename is still atomic.
        }
    }

    Path path() {
        return path;
    }

    @Override
    public void close() throws IOException {
        synchronized (writeLock) {
            channel.close();
        }
    }
}
