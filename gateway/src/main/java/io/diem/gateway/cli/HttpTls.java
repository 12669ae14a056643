package io.diem.gateway.cli;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509KeyManager;

/**
 * The HTTP port's TLS, taken from the gRPC port's credentials so both serve the same certificate and
 * both pick up a renewed one (the key manager re-reads the PEM files). Plaintext gRPC means plaintext
 * HTTP: the bind rules that allowed one allow the other.
 */
final class HttpTls {

    private HttpTls() {}

    /** The TLS context of the HTTP port, or null for plaintext. */
    static SslContext of(ServerCredentials grpc) throws SSLException {
        if (!(grpc instanceof TlsServerCredentials tls) || tls.getKeyManagers() == null || tls.getKeyManagers().isEmpty()) {
            return null;
        }
        X509KeyManager keys = (X509KeyManager) tls.getKeyManagers().get(0);
        return SslContextBuilder.forServer(keys).sslProvider(SslProvider.JDK)
                .applicationProtocolConfig(ApplicationProtocolConfig.DISABLED).build();
    }
}
