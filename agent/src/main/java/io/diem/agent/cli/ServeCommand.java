package io.diem.agent.cli;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.serve.AgentNode;
import io.diem.common.ServerOptions;
import io.diem.common.Tls;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code diem-agent serve}: the node agent service (systemd runs this). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve models to a gateway. Every option can also come from DIEM_AGENT_<OPTION> or the --config file.")
final class ServeCommand implements Callable<Integer> {

    private static final Logger LOG = Logger.getLogger(ServeCommand.class.getName());

    @Mixin
    ServerOptions server = new ServerOptions(7071, 9471);

    @Option(names = "--state-dir", defaultValue = "/var/lib/diem-agent",
            description = "Node key and usage journal (0700). Default: ${DEFAULT-VALUE}.")
    Path stateDir;

    @Option(names = "--gateway", split = ",", description = "Gateway HOST:PORT this node opens its session with (TLS); "
            + "repeatable, one session each (receipts ship to the first one registered).")
    List<String> gateways = new ArrayList<>();

    @Option(names = "--gateway-ca", paramLabel = "PEM", description = "CA that signed the gateway's certificate "
            + "(default: the system trust store).")
    Path gatewayCa;

    @Option(names = "--gateway-insecure", description = "Dial the gateway in plaintext (loopback addresses only; for tests).")
    boolean gatewayInsecure;

    @Option(names = "--local-api", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Serve the NodeAgent API for local tools on --bind:--port (loopback only). Default: ${DEFAULT-VALUE}.")
    boolean localApi;

    @Option(names = "--model", split = ",", description = "Model directory to serve, as DIR or NAME=DIR (repeatable; the name defaults to the directory's).")
    List<String> models = new ArrayList<>();

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--queue", defaultValue = "32", description = "Jobs that may wait per device. Default: ${DEFAULT-VALUE}.")
    int queue;

    @Option(names = "--drain-seconds", defaultValue = "60", description = "How long SIGTERM waits for running jobs. Default: ${DEFAULT-VALUE}.")
    int drainSeconds;

    @Override
    public Integer call() throws Exception {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("no model to serve: pass --model DIR (or set model = DIR in the config)");
        }
        Map<String, Model> loaded = new LinkedHashMap<>();
        ModelLoader loader = new ModelLoader(null);
        for (String spec : models) {
            int eq = spec.indexOf('=');
            Path dir = Path.of(eq < 0 ? spec : spec.substring(eq + 1));
            Model m = eq < 0 ? loader.load(dir) : loader.load(dir, spec.substring(0, eq));
            if (loaded.put(m.name(), m) != null) {
                throw new IllegalArgumentException("two models are named '" + m.name() + "': name one with NAME=DIR");
            }
        }
        java.util.List<InferenceEngine> e = engineOptions.openAll(LOG::info);
        String version = Version.current();
        if (localApi && !Tls.isLoopback(server.bind)) {
            throw new IllegalArgumentException("the agent's local API listens on loopback only, not " + server.bind
                    + ": gateways reach this node over the session it opens, so no port needs to face the network");
        }
        ChannelCredentials toGateway = null;
        for (String gateway : gateways) {
            toGateway = Tls.channelCredentials(gateway, gatewayCa, gatewayInsecure); // refuses plaintext off loopback
        }
        AgentNode node = new AgentNode(localApi ? NettyServerBuilder.forAddress(new InetSocketAddress(server.bind, server.port),
                InsecureServerCredentials.create()) : null, new AgentNode.Settings(stateDir, gateways, toGateway, loaded, e, queue,
                server.metricsBind, server.metricsPort, version), Clock.systemUTC()).start();
        CountDownLatch drained = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // Logging is already shut down inside shutdown hooks: report on stderr (journald keeps it).
            System.err.println("diem-agent: SIGTERM: draining (up to " + drainSeconds + " s for running jobs)");
            try {
                System.err.println("diem-agent: " + node.drain(Duration.ofSeconds(drainSeconds)));
            } catch (Exception ex) {
                System.err.println("diem-agent: drain failed: " + ex);
            } finally {
                drained.countDown();
            }
        }, "agent-drain"));
        node.awaitTermination();
        drained.await();
        return 0;
    }
}
