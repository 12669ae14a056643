package io.diem.common;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every {@code serve} command shares: config file, listen address, gRPC port, metrics
 * port ({@link TlsServerOptions} adds TLS where a port faces the network). A command declares it as {@code @Mixin ServerOptions server = new ServerOptions(7070, 9470)};
 * the ports given there are the documented defaults (picocli keeps a field's initial value as its
 * default), and {@link ConfigDefaults} still lets the environment and the config file override them.
 */
public final class ServerOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "Config file of 'option = value' lines (the option names without the leading --).")
    public Path config;

    @Option(names = "--bind", description = "Address the gRPC port listens on. Default: ${DEFAULT-VALUE}.")
    public String bind = "127.0.0.1";

    @Option(names = "--port", description = "gRPC port. Default: ${DEFAULT-VALUE}.")
    public int port;

    @Option(names = "--metrics-port", description = "Metrics HTTP port (/metrics, /healthz, /readyz; plain HTTP). Default: ${DEFAULT-VALUE}.")
    public int metricsPort;

    @Option(names = "--metrics-bind", description = "Address the metrics port listens on; set the Prometheus host's reachable "
            + "address (and firewall it) to scrape from elsewhere. Default: ${DEFAULT-VALUE}.")
    public String metricsBind = "127.0.0.1";

    /** For picocli, which fills the fields itself when the mixin is not pre-built. */
    public ServerOptions() {}

    public ServerOptions(int defaultPort, int defaultMetricsPort) {
        this.port = defaultPort;
        this.metricsPort = defaultMetricsPort;
    }
}
