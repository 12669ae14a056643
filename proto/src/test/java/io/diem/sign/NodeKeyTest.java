package io.diem.sign;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeKeyTest {

    @TempDir
    Path dir;

    @Test
    void savedKeyIsOwnerOnlyAndLoadsBackWithTheSameIdentity() throws Exception {
        Path file = dir.resolve("state/node.key");
        NodeKey key = NodeKey.loadOrCreate(file);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        NodeKey loaded = NodeKey.loadOrCreate(file);
        assertThat(loaded.nodeId()).isEqualTo(key.nodeId());
        assertThat(loaded.rawPublicKey()).isEqualTo(key.rawPublicKey());

        byte[] payload = "hello".getBytes();
        assertThat(Ed25519.verify(key.publicKey(), payload, loaded.sign(payload))).isTrue();
    }

    @Test
    void nodeIdDerivesFromThePublicKey() throws Exception {
        NodeKey key = NodeKey.generate();
        assertThat(key.nodeId()).matches("node-[0-9a-f]{32}");
        assertThat(NodeKey.nodeIdOf(key.rawPublicKey())).isEqualTo(key.nodeId());
        assertThat(NodeKey.generate().nodeId()).isNotEqualTo(key.nodeId());
        assertThat(Ed25519.rawPublicKey(Ed25519.publicKey(key.rawPublicKey()))).isEqualTo(key.rawPublicKey());
    }

    @Test
    void refusesAKeyFileOthersCanRead() throws Exception {
        Path file = dir.resolve("node.key");
        NodeKey.generate().save(file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

        assertThatThrownBy(() -> NodeKey.load(file)).isInstanceOf(IOException.class).hasMessageContaining("chmod 600");
    }

    @Test
    void refusesToOverwriteAnExistingKeyAndRejectsGarbage() throws Exception {
        Path file = dir.resolve("node.key");
        NodeKey.generate().save(file);
        assertThatThrownBy(() -> NodeKey.generate().save(file)).hasMessageContaining("refusing to overwrite");

        Path garbage = dir.resolve("garbage.key");
        Files.writeString(garbage, "diem-node-key-v1 not-base64!");
        Files.setPosixFilePermissions(garbage, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> NodeKey.load(garbage)).isInstanceOf(IOException.class).hasMessageContaining("corrupt");
    }
}
