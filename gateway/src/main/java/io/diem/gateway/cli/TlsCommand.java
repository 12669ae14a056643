package io.diem.gateway.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code diem-gateway tls-local}: a CA and a server certificate for a gateway on this machine. */
@Command(name = "tls-local", mixinStandardHelpOptions = true,
        description = "Make ca.pem, server.pem and server.key (0600) for a gateway on 127.0.0.1/localhost, unless they exist. "
                + "Serve with --tls-cert DIR/server.pem --tls-key DIR/server.key; clients trust DIR/ca.pem.")
final class TlsCommand implements Callable<Integer> {

    @Option(names = "--dir", required = true, description = "Directory for the three files (created 0700).")
    Path dir;

    @Override
    public Integer call() throws Exception {
        LocalCertificates.Issued f = LocalCertificates.makeIfAbsent(dir);
        System.out.println("CA " + f.ca() + "\ncertificate " + f.certificate() + "\nkey " + f.key());
        return 0;
    }
}
