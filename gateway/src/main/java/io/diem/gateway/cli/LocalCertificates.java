package io.diem.gateway.cli;

import io.diem.common.OwnerOnly;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A CA and a server certificate for a gateway on this machine ({@code 127.0.0.1} and
 * {@code localhost}), made with the JDK's {@code keytool}: {@code ca.pem} (what clients trust),
 * {@code server.pem} (the server's certificate and the CA) and {@code server.key} (PKCS#8, 0600). The
 * CA's own key is thrown away once it has signed, so nothing more can be issued under it.
 */
final class LocalCertificates {

    /** The files a gateway and its clients use. */
    record Issued(Path ca, Path certificate, Path key) {}

    private LocalCertificates() {}

    static Issued paths(Path dir) {
        return new Issued(dir.resolve("ca.pem"), dir.resolve("server.pem"), dir.resolve("server.key"));
    }

    /** Makes the three files in {@code dir} unless they exist already. */
    static Issued makeIfAbsent(Path dir) throws IOException, GeneralSecurityException, InterruptedException {
        Issued out = paths(dir);
        if (Files.exists(out.ca()) && Files.exists(out.certificate()) && Files.exists(out.key())) {
            return out;
        }
        OwnerOnly.directory(dir);
        String password = HexFormat.of().formatHex(SecureRandom.getInstanceStrong().generateSeed(16));
        Path caStore = dir.resolve("ca.p12.tmp");
        Path serverStore = dir.resolve("server.p12.tmp");
        Path request = dir.resolve("server.csr.tmp");
        Path signed = dir.resolve("server-cert.pem.tmp");
        try {
            keytool(password, "-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3650",
                    "-dname", "CN=diem-compute local CA", "-ext", "bc:c", "-ext", "KU=keyCertSign,cRLSign",
                    "-keystore", caStore.toString(), "-storetype", "PKCS12");
            keytool(password, "-exportcert", "-rfc", "-alias", "ca", "-keystore", caStore.toString(), "-file", out.ca().toString());
            keytool(password, "-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "825",
                    "-dname", "CN=localhost", "-keystore", serverStore.toString(), "-storetype", "PKCS12");
            keytool(password, "-certreq", "-alias", "server", "-keystore", serverStore.toString(), "-file", request.toString());
            keytool(password, "-gencert", "-rfc", "-alias", "ca", "-keystore", caStore.toString(), "-infile", request.toString(),
                    "-outfile", signed.toString(), "-validity", "825", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
                    "-ext", "KU=digitalSignature,keyEncipherment", "-ext", "EKU=serverAuth");
            Files.writeString(out.certificate(), Files.readString(signed, StandardCharsets.US_ASCII)
                    + Files.readString(out.ca(), StandardCharsets.US_ASCII), StandardCharsets.US_ASCII);
            OwnerOnly.writeAtomically(out.key(), pkcs8Pem(serverStore, password));
        } finally {
            for (Path p : List.of(caStore, serverStore, request, signed)) {
                Files.deleteIfExists(p);
            }
        }
        return out;
    }

    private static String pkcs8Pem(Path store, String password) throws IOException, GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, password.toCharArray());
        }
        Key key = ks.getKey("server", password.toCharArray());
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded());
        return "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n";
    }

    /** Runs the JDK's keytool with the store password in its environment (not on its command line). */
    private static void keytool(String password, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        command.addAll(List.of("-storepass:env", "DIEM_KEYTOOL_PASSWORD", "-noprompt"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("DIEM_KEYTOOL_PASSWORD", password);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("keytool " + args[0] + " failed: " + output.strip());
        }
    }
}
