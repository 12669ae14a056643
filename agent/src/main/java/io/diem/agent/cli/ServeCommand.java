package io.diem.agent.cli;

import io.diem.agent.engine.InferenceEngine;
import io.diem.agent.model.Model;
import io.diem.agent.model.ModelLoader;
import io.diem.agent.serve.AgentNode;
import io.diem.agent.serve.JobScheduler;
import io.diem.common.CheckReport;
import io.diem.common.ConfigCheck;
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
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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

    @Option(names = "--max-batch", defaultValue = "32",
            description = "Most jobs a device runs at once, one token each per step (continuous batching). Default: ${DEFAULT-VALUE}.")
    int maxBatch;

    @Option(names = "--max-step-tokens", defaultValue = "512", description = "Most tokens one step of a device appends: a token "
            + "per running job, the rest prompt chunks of jobs starting (bounds how long a long prompt holds up the others). "
            + "Default: ${DEFAULT-VALUE}.")
    int maxStepTokens;

    @Option(names = "--kv-cache-mib", defaultValue = "0", description = "KV-cache memory per device in MiB; a job waits until "
            + "its worst case fits and is refused when it never can. 0: two fifths of the Java heap (CPU) or four fifths of "
            + "the GPU's free memory once the served models are uploaded (CUDA). Default: ${DEFAULT-VALUE}.")
    long kvCacheMib;

    @Option(names = "--drain-seconds", defaultValue = "60", description = "How long SIGTERM waits for running jobs. Default: ${DEFAULT-VALUE}.")
    int drainSeconds;

    @Spec
    CommandSpec spec;

    /**
     * Checks this configuration without starting anything: config keys, gateways and their TLS, the
     * models, the state directory, the local API's bind; with {@code network}, also that each gateway
     * answers over TLS with a certificate this node trusts; with {@code loadModels}, that each model's
     * config, tokenizer and chat template load ({@code serve} leaves that to its own loading, which
     * reports the same problems, rather than read every tokenizer twice at start-up).
     */
    CheckReport check(boolean network, boolean loadModels) {
        CheckReport r = new CheckReport();
        ConfigCheck.unknownKeys(spec).forEach(r::error);
        if (gateways.isEmpty()) {
            r.error("no gateway: set gateway = HOST:PORT in the config (or --gateway HOST:PORT); the node opens its session there");
        }
        if (gatewayCa != null) {
            checkCertificateFile(gatewayCa, r);
        }
        for (String gateway : gateways) {
            int colon = gateway.lastIndexOf(':');
            int port = -1;
            try {
                port = colon > 0 ? Integer.parseInt(gateway.substring(colon + 1)) : -1;
            } catch (NumberFormatException e) {
                // reported below
            }
            if (port < 1 || port > 65535) {
                r.error("gateway '" + gateway + "' is not HOST:PORT (e.g. gateway.example:7070)");
                continue;
            }
            ChannelCredentials credentials;
            try {
                credentials = Tls.channelCredentials(gateway, gatewayCa, gatewayInsecure);
            } catch (IllegalArgumentException | java.io.IOException e) {
                r.error(e.getMessage());
                continue;
            }
            if (network) {
                checkReachable(gateway, credentials, r);
            }
        }
        if (models.isEmpty()) {
            r.error("no model to serve: set model = DIR in the config (or --model DIR), a Hugging Face model directory");
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (String spec : models) {
            int eq = spec.indexOf('=');
            Path dir = Path.of(eq < 0 ? spec : spec.substring(eq + 1));
            String name = eq < 0 ? String.valueOf(dir.getFileName()) : spec.substring(0, eq);
            if (!names.add(name)) {
                r.error("two models are named '" + name + "': name one with NAME=DIR");
            }
            checkModel(dir, loadModels, r);
        }
        r.writableDirectory("state-dir", stateDir, "the node key and usage journal");
        if (maxBatch < 1 || maxStepTokens < maxBatch) {
            r.error("max-batch = " + maxBatch + " and max-step-tokens = " + maxStepTokens + ": need max-batch >= 1 and "
                    + "max-step-tokens >= max-batch (every running job appends a token each step)");
        }
        if (kvCacheMib < 0) {
            r.error("kv-cache-mib = " + kvCacheMib + " must be 0 (the engine's default) or more");
        }
        if (localApi && !Tls.isLoopback(server.bind)) {
            r.error("bind = " + server.bind + ": the agent's local API listens on loopback only (set bind = 127.0.0.1, or local-api = false)");
        }
        return r;
    }

    private static void checkCertificateFile(Path pem, CheckReport r) {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(pem)) {
            java.util.Collection<? extends java.security.cert.Certificate> certs =
                    java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certs.isEmpty()) {
                r.error("gateway-ca " + pem + " holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
            } else {
                r.ok("gateway-ca " + pem + ": " + certs.size() + " certificate(s)");
            }
        } catch (java.io.IOException e) {
            r.error("cannot read gateway-ca " + pem + ": " + e.getMessage());
        } catch (java.security.cert.CertificateException e) {
            r.error("gateway-ca " + pem + " is not a PEM certificate: " + e.getMessage());
        }
    }

    private static void checkReachable(String gateway, ChannelCredentials credentials, CheckReport r) {
        io.grpc.ManagedChannel channel = io.grpc.Grpc.newChannelBuilder(gateway, credentials).build();
        try {
            io.grpc.health.v1.HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, java.util.concurrent.TimeUnit.SECONDS)
                    .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
            r.ok("gateway " + gateway + " answers (TLS certificate trusted)");
        } catch (io.grpc.StatusRuntimeException e) {
            String problem = io.diem.common.ConnectProblems.describe(e.getCause(), "the gateway at " + gateway,
                    "set gateway-ca = FILE (the CA that signed it)", "gateway-insecure = true", "the address");
            r.error(problem != null ? problem : "the gateway at " + gateway + " did not answer a health check: "
                    + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : " " + e.getStatus().getDescription()));
        } finally {
            channel.shutdownNow();
        }
    }

    private static void checkModel(Path dir, boolean load, CheckReport r) {
        if (!java.nio.file.Files.isDirectory(dir)) {
            r.error("model directory " + dir + " does not exist (or is not a directory)");
            return;
        }
        if (!java.nio.file.Files.isReadable(dir)) {
            r.error("model directory " + dir + " is not readable by this user");
            return;
        }
        if (!load) {
            return;
        }
        try {
            io.diem.agent.model.ModelConfig config = io.diem.agent.model.ModelConfig.read(dir.resolve("config.json"));
            io.diem.agent.tokenizer.Tokenizer.load(dir, new io.diem.agent.tokenizer.SpecialTokens(config.bosTokenId, config.eosTokenIds));
            try (var files = java.nio.file.Files.list(dir)) {
                if (files.noneMatch(f -> f.getFileName().toString().endsWith(".safetensors"))) {
                    r.error("model directory " + dir + " has no *.safetensors weights");
                    return;
                }
            }
            r.ok("model " + dir + ": " + config.modelType + ", context " + config.contextLength + " tokens, tokenizer and chat template load");
        } catch (java.io.IOException e) {
            r.error("model directory " + dir + ": " + e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        List<String> problems = check(false, false).errors();
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems) + " (diem-agent check-config lists every problem)");
        }
        Map<String, Model> loaded = new LinkedHashMap<>();
        ModelLoader loader = new ModelLoader(System.err);
        for (String spec : models) {
            int eq = spec.indexOf('=');
            Path dir = Path.of(eq < 0 ? spec : spec.substring(eq + 1));
            Model m = eq < 0 ? loader.load(dir) : loader.load(dir, spec.substring(0, eq));
            if (loaded.put(m.name(), m) != null) {
                throw new IllegalArgumentException("two models are named '" + m.name() + "': name one with NAME=DIR");
            }
        }
        java.util.List<InferenceEngine> e = engineOptions.openAll(LOG::info);
        String version = AgentMain.VERSION.current();
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
                server.metricsBind, server.metricsPort, version, engine -> new JobScheduler.Limits(maxBatch, maxStepTokens,
                        kvCacheMib > 0 ? kvCacheMib << 20 : engine.kvMemoryBytes())), Clock.systemUTC()).start();
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
