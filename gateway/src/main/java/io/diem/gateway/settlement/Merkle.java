package io.diem.gateway.settlement;

import io.diem.sign.Hashes;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The payout Merkle tree (documented in docs/settlement.md so anyone can check a proof):
 * <pre>
 * leaf  = SHA-256(0x00 ‖ "diem-payout-v1" ‖ 0x00 ‖ epoch ‖ 0x00 ‖ kind ‖ 0x00 ‖ recipient ‖ 0x00 ‖ amount as 8-byte big-endian µUSD)
 * inner = SHA-256(0x01 ‖ left ‖ right)
 * </pre>
 * Leaves in payout order (kind, then recipient); a level with an odd count carries its last hash up
 * unchanged. An epoch without payouts has the root of 32 zero bytes.
 */
public final class Merkle {

    public record Proof(byte[] leaf, List<byte[]> siblings, List<Boolean> siblingIsLeft) {}

    private Merkle() {}

    public static byte[] leaf(String epoch, String kind, String recipient, long amount) {
        MessageDigest d = Hashes.sha256();
        d.update((byte) 0);
        for (String part : new String[] {"diem-payout-v1", epoch, kind, recipient}) {
            d.update(part.getBytes(StandardCharsets.UTF_8));
            d.update((byte) 0);
        }
        d.update(ByteBuffer.allocate(8).putLong(amount).array());
        return d.digest();
    }

    static byte[] inner(byte[] left, byte[] right) {
        MessageDigest d = Hashes.sha256();
        d.update((byte) 1);
        d.update(left);
        d.update(right);
        return d.digest();
    }

    public static byte[] root(List<byte[]> leaves) {
        if (leaves.isEmpty()) {
            return new byte[Hashes.SHA256_BYTES];
        }
        List<byte[]> level = leaves;
        while (level.size() > 1) {
            List<byte[]> up = new ArrayList<>();
            for (int i = 0; i < level.size(); i += 2) {
                up.add(i + 1 < level.size() ? inner(level.get(i), level.get(i + 1)) : level.get(i));
            }
            level = up;
        }
        return level.get(0);
    }

    public static Proof proof(List<byte[]> leaves, int index) {
        List<byte[]> siblings = new ArrayList<>();
        List<Boolean> left = new ArrayList<>();
        List<byte[]> level = leaves;
        int i = index;
        while (level.size() > 1) {
            int sibling = i % 2 == 0 ? i + 1 : i - 1;
            if (sibling < level.size()) {
                siblings.add(level.get(sibling));
                left.add(sibling < i);
            }
            List<byte[]> up = new ArrayList<>();
            for (int k = 0; k < level.size(); k += 2) {
                up.add(k + 1 < level.size() ? inner(level.get(k), level.get(k + 1)) : level.get(k));
            }
            level = up;
            i /= 2;
        }
        return new Proof(leaves.get(index), siblings, left);
    }

    /** Recomputes the root from a leaf and its proof. */
    public static boolean verify(byte[] leaf, List<byte[]> siblings, List<Boolean> siblingIsLeft, byte[] root) {
        byte[] h = leaf;
        for (int k = 0; k < siblings.size(); k++) {
            h = siblingIsLeft.get(k) ? inner(siblings.get(k), h) : inner(h, siblings.get(k));
        }
        return Arrays.equals(h, root);
    }
}
