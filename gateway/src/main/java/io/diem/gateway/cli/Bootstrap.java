package io.diem.gateway.cli;

import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * First start of an empty ledger: creates an "admin" account and an admin key, and writes the key
 * to a file only its owner can read. A ledger that has any key is left alone.
 */
public final class Bootstrap {

    private Bootstrap() {}

    /** Returns the key file written, or empty when the ledger already had keys. */
    public static Optional<Path> adminKeyIfEmpty(Ledger ledger, Path keyFile) throws IOException {
        if (ledger.hasKeys()) {
            return Optional.empty();
        }
        String account = ledger.createAccount("admin").accountId();
        LedgerViews.CreatedKey key = ledger.createKey(account, LedgerViews.Scope.ADMIN, 0, "bootstrap");
        Files.createDirectories(keyFile.toAbsolutePath().getParent());
        Files.deleteIfExists(keyFile);
        if (keyFile.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.createFile(keyFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } else {
            Files.createFile(keyFile);
        }
        Files.writeString(keyFile, key.secret() + "\n", StandardCharsets.US_ASCII, StandardOpenOption.WRITE,
                StandardOpenOption.SYNC);
        return Optional.of(keyFile);
    }
}
