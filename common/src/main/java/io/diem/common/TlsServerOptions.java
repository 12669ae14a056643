package io.diem.common;

import io.grpc.ServerCredentials;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import picocli.CommandLine.Option;

/** TLS of a gRPC port that faces the network: PEM files, or plaintext on purpose behind a proxy. */
public final class TlsServerOptions {

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Certificate chain the gRPC port serves (re-read when it changes).")
    public Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "PKCS#8 private key of --tls-cert (re-read when it changes).")
    public Path tlsKey;

    @Option(names = "--insecure-plaintext", description = "Serve plaintext gRPC on a non-loopback --bind (only behind a "
            + "TLS-terminating proxy; logs a warning). Without TLS files a loopback --bind is plaintext anyway.")
    public boolean insecurePlaintext;

    /** The credentials of a gRPC port on {@code bind}, under the rules of {@link Tls#serverCredentials}. */
    public ServerCredentials credentials(String bind, ScheduledExecutorService reloader, Consumer<String> warn) throws IOException {
        return Tls.serverCredentials(bind, tlsCert, tlsKey, insecurePlaintext, reloader, warn);
    }
}
