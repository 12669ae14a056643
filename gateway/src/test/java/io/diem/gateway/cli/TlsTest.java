package io.diem.gateway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.common.OwnerOnly;
import io.diem.common.ThreadFactories;
import io.diem.common.Tls;
import io.diem.gateway.GatewayServer;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.store.Db;
import io.grpc.netty.NettyServerBuilder;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The public port over TLS with a locally made CA, as scripts/run-local.sh runs it; plaintext only where it is safe. */
class TlsTest {

    @TempDir
    Path dir;
    Db db;
    GatewayServer server;
    LocalCertificates.Issued tls;
    Path adminKey;
    final ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor(ThreadFactories.daemon("tls-test"));

    @BeforeEach
    void start() throws Exception {
        tls = LocalCertificates.makeIfAbsent(dir.resolve("tls"));
        db = Db.open(Db.h2Url(dir), 4);
        Ledger ledger = new Ledger(db, LedgerConfig.defaults(), Clock.systemUTC());
        adminKey = Bootstrap.adminKeyIfEmpty(ledger, dir.resolve("admin.key")).orElseThrow();
        GatewayServer.Settings d = GatewayServer.Settings.defaults();
        server = new GatewayServer(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
                Tls.serverCredentials("127.0.0.1", tls.certificate(), tls.key(), false, reloader, m -> {})), ledger,
                new GatewayServer.Settings(d.metricsHost(), 0, d.heartbeatInterval(), d.healthTimeout(), d.receiptTtl(), false,
                        d.epochCloseDelay(), d.providerBps(), d.limits(), dir, d.leases())).start();
    }

    @AfterEach
    void stop() throws Exception {
        server.stop(1);
        db.close();
        reloader.shutdownNow();
    }

    @Test
    void theLocalCertificatesAreMadeOnceAndTheKeyIsOwnerOnly() throws Exception {
        assertThat(Files.readString(tls.certificate())).contains("BEGIN CERTIFICATE");
        assertThat(Files.readString(tls.key())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(Files.getPosixFilePermissions(tls.key())).isEqualTo(OwnerOnly.FILE_MODE);
        assertThat(Files.getPosixFilePermissions(dir.resolve("tls"))).isEqualTo(OwnerOnly.DIRECTORY_MODE);
        try (var files = Files.list(dir.resolve("tls"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("ca.pem", "server.pem", "server.key");
        }
        String before = Files.readString(tls.certificate());
        LocalCertificates.makeIfAbsent(dir.resolve("tls"));
        assertThat(Files.readString(tls.certificate())).isEqualTo(before);
    }

    @Test
    void aClientWithoutTheCaIsToldWhatToPassAndWithItSucceeds() {
        String target = "127.0.0.1:" + server.port();
        String[] untrusted = diemctl("--gateway", target, "--key-file", adminKey.toString(), "price", "list");
        assertThat(untrusted[2]).isEqualTo("1");
        assertThat(untrusted[1]).contains("error: UNAVAILABLE: TLS handshake with the gateway at " + target + " failed")
                .contains("pass --ca FILE (or set DIEM_CA)");

        String[] trusted = diemctl("--gateway", target, "--ca", tls.ca().toString(), "--key-file", adminKey.toString(), "--json",
                "price", "list");
        assertThat(trusted[2]).as(trusted[1]).isEqualTo("0");
        assertThat(trusted[0].strip()).isEqualTo("{}");

        String[] byName = diemctl("--gateway", "localhost:" + server.port(), "--ca", tls.ca().toString(), "--key-file",
                adminKey.toString(), "--json", "price", "list");
        assertThat(byName[2]).as(byName[1]).isEqualTo("0");
    }

    @Test
    void theHttpApiServesTheGrpcPortsCertificate() throws Exception {
        server.startHttp("127.0.0.1", 0, HttpTls.of(Tls.serverCredentials("127.0.0.1", tls.certificate(), tls.key(), false,
                reloader, m -> {})));
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (var in = Files.newInputStream(tls.ca())) {
            trust.setCertificateEntry("ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create("https://localhost:" + server.httpPort() + "/v1/models"))
                .header("Authorization", "Bearer " + Files.readString(adminKey).strip()).build();
        var ok = java.net.http.HttpClient.newBuilder().sslContext(ssl).build()
                .send(request, java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(ok.body()).contains("\"object\":\"list\"");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> java.net.http.HttpClient.newHttpClient()
                .send(request, java.net.http.HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(javax.net.ssl.SSLHandshakeException.class); // not trusted without the CA
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + server.httpPort() + "/v1/models")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())).isInstanceOf(java.io.IOException.class); // no plaintext on a TLS port
    }

    /** {exit code, output} of the agent jar's check-config (the agent module is built before the gateway's tests). */
    private String[] agentCheckConfig(String... args) throws Exception {
        Path jar = Path.of("..", "agent", "target", "diem-agent.jar").toAbsolutePath().normalize();
        Path model = dir.resolve("tiny");
        if (!Files.exists(model.resolve("config.json"))) {
            assertThat(new ProcessBuilder("java", "-jar", jar.toString(), "models", "make-test", "--out", model.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor()).isZero();
        }
        List<String> command = new ArrayList<>(List.of("java", "-jar", jar.toString(), "check-config", "--model", model.toString(),
                "--state-dir", dir.resolve("agent-state").toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        return new String[] {String.valueOf(p.waitFor()), out};
    }

    @Test
    void agentCheckConfigTellsAnUntrustedCertificateFromAnUnreachableGatewayFromAGoodOne() throws Exception {
        String target = "127.0.0.1:" + server.port();
        String[] untrusted = agentCheckConfig("--gateway", target);
        assertThat(untrusted[0]).as(untrusted[1]).isEqualTo("1");
        assertThat(untrusted[1]).contains("error: TLS handshake with the gateway at " + target + " failed")
                .contains("set gateway-ca = FILE");
        String[] away = agentCheckConfig("--gateway", "127.0.0.1:1", "--gateway-ca", tls.ca().toString());
        assertThat(away[0]).isEqualTo("1");
        assertThat(away[1]).contains("error: cannot reach the gateway at 127.0.0.1:1: connection refused; is it running");
        String[] good = agentCheckConfig("--gateway", target, "--gateway-ca", tls.ca().toString());
        assertThat(good[0]).as(good[1]).isEqualTo("0");
        assertThat(good[1]).contains("ok: gateway " + target + " answers (TLS certificate trusted)", "ok: model ", "configuration ok");
        String[] offline = agentCheckConfig("--gateway", "127.0.0.1:1", "--offline");
        assertThat(offline[0]).as(offline[1]).isEqualTo("0");
    }

    @Test
    void plaintextIsRefusedOffLoopbackOnBothEnds() throws Exception {
        StringWriter err = new StringWriter();
        CommandLine gateway = GatewayMain.commandLine(new String[0], Map.of());
        gateway.setErr(new PrintWriter(err));
        Path data = dir.resolve("refused");
        int exit = gateway.execute("serve", "--bind", "0.0.0.0", "--port", "0", "--metrics-port", "0", "--data-dir", data.toString());
        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).contains("refusing to serve plaintext gRPC on 0.0.0.0: pass --tls-cert FILE --tls-key FILE (PEM)");
        assertThat(data).doesNotExist(); // refused before any state was made

        List<String> warnings = new ArrayList<>();
        assertThat(Tls.serverCredentials("0.0.0.0", null, null, true, reloader, warnings::add)).isNotNull();
        assertThat(warnings).singleElement().asString().contains("PLAINTEXT");

        String[] client = diemctl("--gateway", "192.0.2.7:7070", "--insecure", "--key-file", adminKey.toString(), "price", "list");
        assertThat(client[1]).contains("--insecure (plaintext) is allowed only to a loopback address, not 192.0.2.7:7070");
    }

    /** {stdout, stderr, exit code} of an in-process diemctl. */
    private static String[] diemctl(String... args) {
        CommandLine cli = Diemctl.commandLine(Map.of());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new String[] {out.toString(), err.toString(), String.valueOf(code)};
    }
}
