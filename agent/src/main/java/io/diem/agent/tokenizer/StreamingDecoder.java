package io.diem.agent.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of tokens into text without ever emitting half a UTF-8 character: bytes of an
 * incomplete character are held back until the next token completes it. Bytes that can never form a
 * valid character are emitted as U+FFFD, as a whole-sequence decode would.
 */
public final class StreamingDecoder {

    private final Tokenizer tokenizer;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    public StreamingDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text that is now complete (possibly empty). */
    public String push(int tokenId) {
        byte[] bytes = tokenizer.tokenBytes(tokenId);
        pending.write(bytes, 0, bytes.length);
        byte[] all = pending.toByteArray();
        int complete = completePrefix(all);
        pending.reset();
        pending.write(all, complete, all.length - complete);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Emits whatever is held back (an unfinished character becomes U+FFFD). */
    public String flush() {
        byte[] rest = pending.toByteArray();
        pending.reset();
        return new String(rest, StandardCharsets.UTF_8);
    }

    /**
     * Length of the longest prefix that ends on a character boundary: everything except a trailing
     * sequence that is a valid start of a multi-byte character still waiting for continuation bytes.
     */
    static int completePrefix(byte[] b) {
        int n = b.length;
        // A UTF-8 character is at most 4 bytes: only the last 3 bytes can be an unfinished one.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int lead = b[n - back] & 0xff;
            if ((lead & 0xC0) == 0x80) {
                continue; // continuation byte: keep looking for its lead
            }
            int need = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 1;
            if (need > back && validSoFar(b, n - back, n)) {
                return n - back;
            }
            return n;
        }
        return n;
    }

    /** True when b[from..to) is a valid, if unfinished, multi-byte sequence (overlongs and surrogates excluded). */
    private static boolean validSoFar(byte[] b, int from, int to) {
        int lead = b[from] & 0xff;
        for (int i = from + 1; i < to; i++) {
            int c = b[i] & 0xff;
            if ((c & 0xC0) != 0x80) {
                return false;
            }
            if (i == from + 1) {
                if (lead == 0xE0 && c < 0xA0) return false;
                if (lead == 0xED && c > 0x9F) return false;
                if (lead == 0xF0 && c < 0x90) return false;
                if (lead == 0xF4 && c > 0x8F) return false;
            }
        }
        return true;
    }
}
