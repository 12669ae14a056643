package io.diem.sign;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Set;

/**
 * A node's Ed25519 identity key (JDK only). The node id is derived from the raw public key, so
 * anyone holding the public key can check that a node id belongs to it.
 *
 * <p>On disk the key is one line, {@code diem-node-key-v1 <base64 PKCS#8>}, in a file of mode 0600;
 * loading refuses files that group or others can read.
 */
public final class NodeKey {

    private static final String FILE_HEADER = "diem-node-key-v1";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final PrivateKey privateKey;
    private final PublicKey publicKey;
    private final byte[] rawPublicKey;
    private final String nodeId;

    private NodeKey(PrivateKey privateKey, PublicKey publicKey) {
        this.privateKey = privateKey;
        this.publicKey = publicKey;
        this.rawPublicKey = Ed25519.rawPublicKey(publicKey);
        this.nodeId = nodeIdOf(rawPublicKey);
    }

    /** A fresh random key. */
    public static NodeKey generate() {
        try {
            KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
            return new NodeKey(pair.getPrivate(), pair.getPublic());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no Ed25519 (needs Java 15+ with SunEC)", e);
        }
    }

    /** Loads the key at {@code file}, or creates and saves one there if the file does not exist. */
    public static NodeKey loadOrCreate(Path file) throws IOException {
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return load(file);
        }
        NodeKey key = generate();
        key.save(file);
        return key;
    }

    /** Loads a key saved by {@link #save}; refuses keys readable by group or others. */
    public static NodeKey load(Path file) throws IOException {
        if (Files.getFileStore(file).supportsFileAttributeView("posix")) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            if (!OWNER_ONLY.containsAll(perms)) {
                throw new IOException("node key " + file + " has mode " + PosixFilePermissions.toString(perms)
                        + "; it must be readable by its owner only (chmod 600 " + file + ")");
            }
        }
        String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
        String[] parts = text.split(" ");
        if (parts.length != 2 || !parts[0].equals(FILE_HEADER)) {
            throw new IOException("node key " + file + " is not a " + FILE_HEADER + " file");
        }
        try {
            byte[] pkcs8 = Base64.getDecoder().decode(parts[1]);
            PrivateKey priv = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            return new NodeKey(priv, Ed25519.publicFromPrivate(priv));
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            throw new IOException("node key " + file + " is corrupt: " + e.getMessage(), e);
        }
    }

    /**
     * Writes the key to {@code file} with mode 0600, atomically (temp file then rename), creating
     * parent directories. Never overwrites an existing file.
     */
    public void save(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("refusing to overwrite existing node key " + file);
        }
        Path tmp = dir.resolve(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        byte[] line = (FILE_HEADER + " " + Base64.getEncoder().encodeToString(privateKey.getEncoded()) + "\n")
                .getBytes(StandardCharsets.US_ASCII);
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        } else {
            Files.createFile(tmp);
        }
        Files.write(tmp, line, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Ed25519 signature of {@code payload}, 64 bytes. */
    public byte[] sign(byte[] payload) {
        try {
            Signature signer = Signature.getInstance("Ed25519");
            signer.initSign(privateKey);
            signer.update(payload);
            return signer.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    public String nodeId() {
        return nodeId;
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    /** The 32-byte raw public key (what goes on the wire). */
    public byte[] rawPublicKey() {
        return rawPublicKey.clone();
    }

    /**
     * The node id of a raw public key: {@code "node-"} and the lower-case hex of the first 16 bytes
     * of its SHA-256 (128 bits: collisions need 2^64 work).
     */
    public static String nodeIdOf(byte[] rawPublicKey) {
        if (rawPublicKey.length != Ed25519.RAW_KEY_BYTES) {
            throw new IllegalArgumentException("Ed25519 public key must be 32 bytes, got " + rawPublicKey.length);
        }
        byte[] digest = Hashes.sha256(rawPublicKey);
        return "node-" + Hashes.hex(Arrays.copyOf(digest, 16));
    }
}
