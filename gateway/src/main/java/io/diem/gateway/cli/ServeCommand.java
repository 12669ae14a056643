package io.diem.gateway.cli;

import io.diem.common.OwnerOnly;
import io.diem.common.ServerOptions;
import io.diem.common.ThreadFactories;
import io.diem.common.TlsServerOptions;
import io.diem.gateway.GatewayServer;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.store.Db;
import io.grpc.ServerCredentials;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code diem-gateway serve}: runs the gateway until SIGTERM or Ctrl-C. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run the gateway. Every option can also come from DIEM_GATEWAY_<OPTION> or the --config file.")
final class ServeCommand implements Callable<Integer> {

    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

    @Mixin
    ServerOptions server = new ServerOptions(7070, 9470);

    @Mixin
    TlsServerOptions tls;

    @Option(names = "--provider-share-bps", defaultValue = "7000",
            description = "Providers' share of fees in basis points. Default: ${DEFAULT-VALUE}.")
    int providerBps;

    @Option(names = "--auto-close-epochs", defaultValue = "true", arity = "1",
            description = "Close each UTC day's epoch automatically after midnight. Default: ${DEFAULT-VALUE}.")
    boolean autoClose;

    @Option(names = "--epoch-close-delay-minutes", defaultValue = "15",
            description = "Minutes after 00:00 UTC before the automatic close (late receipts). Default: ${DEFAULT-VALUE}.")
    int closeDelayMinutes;

    @Option(names = "--receipt-ttl-seconds", defaultValue = "300",
            description = "A job with no receipt this long after its stream ended is charged at what was relayed. Default: ${DEFAULT-VALUE}.")
    int receiptTtlSeconds;

    @Option(names = "--max-gpu-seconds-per-call", defaultValue = "30",
            description = "GPU-time limit of every ticket (and the GPU part of the worst-case reservation). Default: ${DEFAULT-VALUE}.")
    int maxGpuSeconds;

    @Option(names = "--http-port", defaultValue = "7080",
            description = "Port of the OpenAI-style HTTP API (/v1/models, /v1/chat/completions, /v1/completions) on the --bind "
                    + "address, with the gRPC port's TLS; -1 turns it off. Default: ${DEFAULT-VALUE}.")
    int httpPort;

    @Option(names = "--data-dir", defaultValue = "data/gateway",
            description = "Where the embedded ledger and admin.key live. Default: ${DEFAULT-VALUE}.")
    Path dataDir;

    @Option(names = "--db", description = "Ledger JDBC URL (default: an H2 file in --data-dir); e.g. jdbc:postgresql://HOST:5432/DB?user=U.")
    String db;

    @Option(names = "--db-pool", defaultValue = "16", description = "Ledger connections. Default: ${DEFAULT-VALUE}.")
    int dbPool;

    @Override
    public Integer call() throws Exception {
        // Refuse an unsafe bind before touching any state.
        ScheduledExecutorService tlsReloader = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("tls-reload"));
        ServerCredentials credentials = tls.credentials(server.bind, tlsReloader, LOG::warning);
        OwnerOnly.directory(dataDir); // the embedded ledger and admin.key live here: 0700
        String url = db != null && !db.isEmpty() ? db : Db.h2Url(dataDir);
        Db database = Db.open(url, dbPool);
        Ledger ledger = new Ledger(database, LedgerConfig.defaults(), Clock.systemUTC());
        Path keyFile = dataDir.resolve("admin.key").toAbsolutePath();
        Bootstrap.adminKeyIfEmpty(ledger, keyFile)
                .ifPresent(p -> LOG.info("empty ledger: bootstrap admin key written to " + p + " (mode 0600)"));
        GatewayServer.Settings d = GatewayServer.Settings.defaults();
        GatewayServer.Settings settings = new GatewayServer.Settings(server.metricsBind, server.metricsPort, d.heartbeatInterval(), d.healthTimeout(),
                Duration.ofSeconds(receiptTtlSeconds), autoClose, Duration.ofMinutes(closeDelayMinutes), providerBps,
                d.limits().withGpuMicrosPerCall(maxGpuSeconds * 1_000_000L), dataDir);
        GatewayServer gateway = new GatewayServer(NettyServerBuilder.forAddress(new InetSocketAddress(server.bind, server.port),
                credentials), ledger, settings).start();
        if (httpPort >= 0) {
            gateway.startHttp(server.bind, httpPort, HttpTls.of(credentials));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("diem-gateway: SIGTERM: draining open streams (up to 30 s)");
            try {
                gateway.stop(30);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                database.close();
            }
        }, "gateway-shutdown"));
        gateway.blockUntilShutdown();
        return 0;
    }
}
