package io.diem.common;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.util.AdvancedTlsX509KeyManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Transport security of every gRPC port and client. A server serves TLS from PEM files (a
 * certificate chain and a PKCS#8 private key, re-read within a minute whenever either file changes);
 * without them it serves plaintext only on a loopback address, or where the operator says a
 * TLS-terminating proxy sits in front. A client verifies the server against a CA file or the system
 * trust store; plaintext is for loopback only.
 */
public final class Tls {

    /** How often the server's certificate and key files are checked for a change. */
    static final long RELOAD_SECONDS = 60;

    private Tls() {}

    /** Whether {@code host} names only this machine (127.0.0.0/8, ::1, localhost); the wildcard 0.0.0.0 does not. */
    public static boolean isLoopback(String host) {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** The host of a {@code HOST:PORT} or {@code [IPv6]:PORT} target. */
    public static String hostOf(String target) {
        String t = target.startsWith("dns:///") ? target.substring("dns:///".length()) : target;
        if (t.startsWith("[")) {
            int close = t.indexOf(']');
            return close > 0 ? t.substring(1, close) : t;
        }
        int colon = t.lastIndexOf(':');
        return colon > 0 ? t.substring(0, colon) : t;
    }

    /**
     * The credentials of a gRPC port listening on {@code bind}.
     *
     * @param reloader checks the PEM files for changes (needed only with TLS)
     * @param warn told when plaintext is served on a non-loopback address on purpose
     */
    public static ServerCredentials serverCredentials(String bind, Path cert, Path key, boolean insecurePlaintext,
            ScheduledExecutorService reloader, Consumer<String> warn) throws IOException {
        if (cert != null || key != null) {
            if (cert == null || key == null) {
                throw new IllegalArgumentException("TLS needs both --tls-cert FILE and --tls-key FILE (PEM)");
            }
            for (Path p : new Path[] {cert, key}) {
                if (!Files.isReadable(p)) {
                    throw new IllegalArgumentException("cannot read " + p + " (TLS certificate or key)");
                }
            }
            AdvancedTlsX509KeyManager keys = new AdvancedTlsX509KeyManager();
            try {
                keys.updateIdentityCredentials(cert.toFile(), key.toFile(), RELOAD_SECONDS, TimeUnit.SECONDS, reloader);
            } catch (GeneralSecurityException | RuntimeException e) {
                throw new IllegalArgumentException("cannot use " + cert + " and " + key + " as a TLS certificate and its key: "
                        + e.getMessage(), e);
            }
            return TlsServerCredentials.newBuilder().keyManager(keys).build();
        }
        if (isLoopback(bind)) {
            return InsecureServerCredentials.create();
        }
        if (insecurePlaintext) {
            warn.accept("serving PLAINTEXT gRPC on " + bind + " (--insecure-plaintext): API keys and tokens cross the network "
                    + "in clear unless a TLS-terminating proxy sits in front");
            return InsecureServerCredentials.create();
        }
        throw new IllegalArgumentException("refusing to serve plaintext gRPC on " + bind + ": pass --tls-cert FILE --tls-key FILE "
                + "(PEM), or --insecure-plaintext when a TLS-terminating proxy sits in front, or bind 127.0.0.1");
    }

    /**
     * The credentials for dialing {@code target}: TLS verified against {@code ca} (a PEM file of trusted
     * certificates) or, without it, the system trust store; plaintext only when {@code insecure}, and
     * only to a loopback address.
     */
    public static ChannelCredentials channelCredentials(String target, Path ca, boolean insecure) throws IOException {
        if (insecure) {
            if (!isLoopback(hostOf(target))) {
                throw new IllegalArgumentException("--insecure (plaintext) is allowed only to a loopback address, not " + target
                        + ": use TLS (--ca FILE, or the system trust store)");
            }
            return InsecureChannelCredentials.create();
        }
        if (ca == null) {
            return TlsChannelCredentials.create();
        }
        if (!Files.isReadable(ca)) {
            throw new IllegalArgumentException("cannot read the CA file " + ca);
        }
        return TlsChannelCredentials.newBuilder().trustManager(ca.toFile()).build();
    }
}
