package io.diem.common;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** File-channel helpers shared by the file formats (safetensors reader, usage journal). */
public final class Channels {

    private Channels() {}

    /** Fills {@code buffer} from {@code channel} starting at {@code position}; EOF before it is full is an error. */
    public static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long pos = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }
}
