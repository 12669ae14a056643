package io.diem.gateway.cli;

import io.diem.common.CheckReport;
import io.diem.common.ConfigCheck;
import io.diem.common.OwnerOnly;
import io.diem.common.ServerOptions;
import io.diem.common.ThreadFactories;
import io.diem.common.TlsServerOptions;
import io.diem.gateway.GatewayServer;
import io.diem.gateway.ledger.LeasedCredit;
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
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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

    @Option(names = "--credit-lease-seconds", defaultValue = "30",
            description = "Life of a credit lease (a slice of an account's daily credit this gateway admits calls against in "
                    + "memory): if this gateway dies, the credit it held returns to the account after at most this plus 5 s, or "
                    + "at once when it restarts. 3..3600. Default: ${DEFAULT-VALUE}.")
    int creditLeaseSeconds;

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

    @Spec
    CommandSpec spec;

    /**
     * Checks this configuration without starting anything: config keys, the bind and TLS rules and
     * files, ports and shares, the data directory; with {@code network}, that the ledger database answers.
     */
    CheckReport check(boolean network) {
        CheckReport r = new CheckReport();
        ConfigCheck.unknownKeys(spec).forEach(r::error);
        java.util.concurrent.ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("tls-check"));
        try {
            tls.credentials(server.bind, reloader, m -> {});
            r.ok(tls.tlsCert != null ? "TLS certificate " + tls.tlsCert + " and key " + tls.tlsKey + " load" + " (gRPC and HTTP ports)"
                    : "plaintext on " + server.bind + (tls.insecurePlaintext ? " (insecure-plaintext: a TLS proxy must sit in front)"
                    : " (loopback only)"));
        } catch (IllegalArgumentException | java.io.IOException e) {
            r.error(e.getMessage());
        } finally {
            reloader.shutdownNow();
        }
        for (int[] p : new int[][] {{server.port, 0}, {server.metricsPort, 1}, {httpPort, 2}}) {
            String name = new String[] {"port", "metrics-port", "http-port"}[p[1]];
            if (p[0] < (p[1] == 2 ? -1 : 0) || p[0] > 65535) {
                r.error(name + " = " + p[0] + " is not a port (0..65535" + (p[1] == 2 ? ", or -1 for none" : "") + ")");
            }
        }
        if (providerBps < 0 || providerBps > 10_000) {
            r.error("provider-share-bps = " + providerBps + " must be 0..10000 (basis points of fees)");
        }
        if (receiptTtlSeconds < 1 || maxGpuSeconds < 1) {
            r.error("receipt-ttl-seconds and max-gpu-seconds-per-call must be at least 1");
        }
        if (creditLeaseProblem() != null) {
            r.error(creditLeaseProblem());
        }
        r.writableDirectory("data-dir", dataDir, "admin.key, the ticket secret and the embedded ledger");
        if (db != null && !db.isEmpty()) {
            if (!db.startsWith("jdbc:postgresql:") && !db.startsWith("jdbc:h2:")) {
                r.error("db = " + db + " is not a PostgreSQL (jdbc:postgresql://HOST:5432/DB?user=U) or H2 JDBC URL");
            } else if (network) {
                java.sql.DriverManager.setLoginTimeout(5);
                try (java.sql.Connection c = java.sql.DriverManager.getConnection(db); java.sql.Statement st = c.createStatement()) {
                    st.execute("SELECT 1");
                    r.ok("ledger database answers (" + c.getMetaData().getDatabaseProductName() + " "
                            + c.getMetaData().getDatabaseProductVersion() + ")");
                } catch (java.sql.SQLException e) {
                    r.error("cannot reach the ledger database " + db.replaceAll("password=[^&]*", "password=…") + ": "
                            + e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")");
                }
            }
        } else {
            r.ok("ledger: the embedded H2 file in " + dataDir);
        }
        return r;
    }

    /** What is wrong with --credit-lease-seconds, or null. */
    private String creditLeaseProblem() {
        return creditLeaseSeconds < 3 || creditLeaseSeconds > 3600
                ? "credit-lease-seconds = " + creditLeaseSeconds + " must be 3..3600" : null;
    }

    @Override
    public Integer call() throws Exception {
        java.util.List<String> unknown = ConfigCheck.unknownKeys(spec);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", unknown) + " (diem-gateway check-config lists every problem)");
        }
        if (creditLeaseProblem() != null) {
            throw new IllegalArgumentException(creditLeaseProblem()); // before any state is touched
        }
        LeasedCredit.Policy leases = LeasedCredit.Policy.lasting(Duration.ofSeconds(creditLeaseSeconds));
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
                d.limits().withGpuMicrosPerCall(maxGpuSeconds * 1_000_000L), dataDir, leases);
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
