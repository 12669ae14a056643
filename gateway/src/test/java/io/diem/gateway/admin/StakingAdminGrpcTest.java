package io.diem.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.diem.gateway.GatewayServer;
import io.diem.gateway.cli.Bootstrap;
import io.diem.gateway.cli.CtlOutput;
import io.diem.gateway.cli.Diemctl;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.store.Db;
import io.diem.v1.Account;
import io.diem.v1.AccountRequest;
import io.diem.v1.AdminGrpc;
import io.diem.v1.AmountRequest;
import io.diem.v1.CreateAccountRequest;
import io.diem.v1.CreateApiKeyRequest;
import io.diem.v1.CreatedApiKey;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.KeyScope;
import io.diem.v1.ListAccountsRequest;
import io.diem.v1.ListModelPricesRequest;
import io.diem.v1.MintDiemRequest;
import io.diem.v1.QuoteMintRequest;
import io.diem.v1.RevokeApiKeyRequest;
import io.diem.v1.StakingGrpc;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Staking and Admin over real gRPC on loopback, with the embedded ledger. */
class StakingAdminGrpcTest {

    @TempDir
    Path dir;
    Db db;
    GatewayServer server;
    ManagedChannel channel;
    String adminKey;

    @BeforeEach
    void start() throws Exception {
        db = Db.open(Db.h2Url(dir), 4);
        Ledger ledger = new Ledger(db, LedgerConfig.defaults(), Clock.systemUTC());
        Path keyFile = Bootstrap.adminKeyIfEmpty(ledger, dir.resolve("admin.key")).orElseThrow();
        assertThat(Files.getPosixFilePermissions(keyFile))
                .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        assertThat(Bootstrap.adminKeyIfEmpty(ledger, dir.resolve("again.key"))).isEmpty();
        adminKey = Files.readString(keyFile).strip();
        GatewayServer.Settings d = GatewayServer.Settings.defaults();
        server = new GatewayServer(Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()), ledger,
                new GatewayServer.Settings(d.metricsHost(), 0, d.heartbeatInterval(), d.healthTimeout(), d.receiptTtl(), false,
                        d.epochCloseDelay(), d.providerBps(), d.limits(), dir, d.leases())).start();
        channel = Grpc.newChannelBuilder("127.0.0.1:" + server.port(), InsecureChannelCredentials.create()).build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        server.stop(1);
        db.close();
    }

    private Channel as(String key) {
        return ClientInterceptors.intercept(channel, CtlOutput.bearer(key));
    }

    private static void assertStatus(Runnable call, Status.Code code, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).contains(message);
        });
    }

    @Test
    void unknownRevokedAndMalformedKeysAreAllUnauthenticatedAlike() {
        AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(as(adminKey));
        String acct = admin.createAccount(CreateAccountRequest.newBuilder().setName("u").build()).getAccountId();
        CreatedApiKey key = admin.createApiKey(CreateApiKeyRequest.newBuilder().setAccountId(acct).build());
        admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setKeyId(key.getInfo().getKeyId()).build());
        for (String bad : new String[] {key.getSecret(), "diem_unknown", "not even close", ""}) {
            assertStatus(() -> StakingGrpc.newBlockingStub(as(bad)).getAccount(AccountRequest.getDefaultInstance()),
                    Status.Code.UNAUTHENTICATED, "missing or invalid API key");
        }
        assertStatus(() -> StakingGrpc.newBlockingStub(channel).getAccount(AccountRequest.getDefaultInstance()),
                Status.Code.UNAUTHENTICATED, "missing or invalid API key");
    }

    @Test
    void inferenceKeysReachOnlyTheirOwnAccountAndNoAdminMethods() {
        AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(as(adminKey));
        String alice = admin.createAccount(CreateAccountRequest.newBuilder().setName("alice").build()).getAccountId();
        String bob = admin.createAccount(CreateAccountRequest.newBuilder().setName("bob").build()).getAccountId();
        admin.depositVvv(AmountRequest.newBuilder().setAccountId(alice).setAmountMicro(20_000_000_000L).build());
        String aliceKey = admin.createApiKey(CreateApiKeyRequest.newBuilder().setAccountId(alice)
                .setScope(KeyScope.KEY_SCOPE_INFERENCE).build()).getSecret();

        StakingGrpc.StakingBlockingStub asAlice = StakingGrpc.newBlockingStub(as(aliceKey));
        asAlice.stakeVvv(AmountRequest.newBuilder().setAmountMicro(20_000_000_000L).build());
        Account minted = asAlice.mintDiem(MintDiemRequest.newBuilder().setDiemMicro(100_000_000).build()).getAccount();
        assertThat(minted.getDiemMicro()).isEqualTo(100_000_000);
        Account staked = asAlice.stakeDiem(AmountRequest.newBuilder().setAmountMicro(100_000_000).build());
        assertThat(staked.getBalance().getAllowanceMicroUsd()).isEqualTo(100_000_000);

        assertStatus(() -> asAlice.getAccount(AccountRequest.newBuilder().setAccountId(bob).build()),
                Status.Code.PERMISSION_DENIED, "may act only on its own account");
        assertStatus(() -> AdminGrpc.newBlockingStub(as(aliceKey)).listAccounts(ListAccountsRequest.getDefaultInstance()),
                Status.Code.PERMISSION_DENIED, "needs an admin key");
        // admin keys reach every account
        assertThat(StakingGrpc.newBlockingStub(as(adminKey)).getAccount(AccountRequest.newBuilder().setAccountId(alice).build())
                .getDiemStakedMicro()).isEqualTo(100_000_000);
    }

    @Test
    void badAmountsAndUnknownAccountsGetPreciseStatuses() {
        StakingGrpc.StakingBlockingStub staking = StakingGrpc.newBlockingStub(as(adminKey));
        assertStatus(() -> staking.stakeVvv(AmountRequest.newBuilder().setAmountMicro(0).build()),
                Status.Code.INVALID_ARGUMENT, "must be > 0");
        assertStatus(() -> staking.stakeVvv(AmountRequest.newBuilder().setAmountMicro(-1).build()),
                Status.Code.INVALID_ARGUMENT, "must be > 0");
        assertStatus(() -> staking.stakeVvv(AmountRequest.newBuilder().setAmountMicro(5).build()),
                Status.Code.FAILED_PRECONDITION, "liquid VVV, needs");
        assertStatus(() -> staking.quoteMint(QuoteMintRequest.newBuilder().setDiemMicro(38_000_000_000L).build()),
                Status.Code.FAILED_PRECONDITION, "supply asymptote");
        assertStatus(() -> staking.getAccount(AccountRequest.newBuilder().setAccountId("acct_missing").build()),
                Status.Code.NOT_FOUND, "no account 'acct_missing'");
        assertStatus(() -> AdminGrpc.newBlockingStub(as(adminKey)).createAccount(CreateAccountRequest.getDefaultInstance()),
                Status.Code.INVALID_ARGUMENT, "account name must be 1..64");
    }

    @Test
    void diemctlPrintsOneJsonObjectPerCommand() {
        String target = "127.0.0.1:" + server.port();
        String[] created = run("--insecure", "--gateway", target, "--key", adminKey, "--json", "account", "create", "carol");
        assertThat(created[0]).startsWith("{\"accountId\":\"acct_").contains("\"name\":\"carol\"");
        String id = created[0].replaceAll(".*\"accountId\":\"([^\"]+)\".*", "$1").strip();
        assertThat(run("--insecure", "--gateway", target, "--key", adminKey, "deposit", "vvv", "--account", id, "2000000")[0])
                .contains("liquid 2000000");
        assertThat(run("--insecure", "--gateway", target, "--key", adminKey, "stake", "vvv", "--account", id, "1500000.5")[0])
                .contains("staked 1500000.5");
        assertThat(run("--insecure", "--gateway", target, "--key", adminKey, "mint", "quote", "10000")[0])
                .contains("marginal after 93.28");
        String[] error = run("--insecure", "--gateway", target, "--key", adminKey, "--json", "stake", "vvv", "--account", "acct_nope", "1");
        assertThat(error[0].strip()).isEqualTo("{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no account 'acct_nope'\"}}");
        String[] tooPrecise = run("--insecure", "--gateway", target, "--key", adminKey, "stake", "vvv", "0.0000001");
        assertThat(tooPrecise[1]).contains("more than 6 decimals");
    }

    @Test
    void diemctlTakesTheKeyFromTheEnvironmentOrAFileAndWarnsWhenItIsOnTheCommandLine() throws Exception {
        String target = "127.0.0.1:" + server.port();
        String[] fromEnv = run(Map.of("DIEM_KEY", adminKey), "--insecure", "--gateway", target, "--json", "price", "list");
        assertThat(fromEnv[0].strip()).startsWith("{");
        assertThat(fromEnv[1]).isEmpty();

        Path keyFile = Files.writeString(dir.resolve("key"), adminKey + "\n");
        String[] fromFile = run(Map.of(), "--insecure", "--gateway", target, "--key-file", keyFile.toString(), "--json", "price", "list");
        assertThat(fromFile[0].strip()).startsWith("{");
        assertThat(fromFile[1]).isEmpty();

        String[] onCommandLine = run(Map.of(), "--insecure", "--gateway", target, "--key", adminKey, "--json", "price", "list");
        assertThat(onCommandLine[0].strip()).startsWith("{"); // stdout stays one JSON object
        assertThat(onCommandLine[1]).contains("warning: --key shows the key to every user in the process list");

        String[] none = run(Map.of(), "--insecure", "--gateway", target, "--json", "price", "list");
        assertThat(none[0].strip()).isEqualTo("{\"error\":{\"code\":\"INVALID_ARGUMENT\",\"message\":\"no API key: set DIEM_KEY, "
                + "pass --key-file FILE, or run in a terminal to be asked\"}}");
        String[] missingFile = run(Map.of(), "--insecure", "--gateway", target, "--key-file", dir.resolve("nope").toString(), "price", "list");
        assertThat(missingFile[1]).contains("error: INVALID_ARGUMENT: cannot read --key-file " + dir.resolve("nope"));
    }

    @Test
    void hostileNumbersDatesAndHeadersGetPreciseStatusesNeverUnknown() {
        var admin = AdminGrpc.newBlockingStub(as(adminKey));
        String id = admin.createAccount(io.diem.v1.CreateAccountRequest.newBuilder().setName("big").build()).getAccountId();
        admin.depositVvv(io.diem.v1.AmountRequest.newBuilder().setAccountId(id).setAmountMicro(Long.MAX_VALUE).build());
        assertThatThrownBy(() -> admin.depositVvv(io.diem.v1.AmountRequest.newBuilder().setAccountId(id).setAmountMicro(Long.MAX_VALUE)
                .build())).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains("past the largest balance the ledger holds");
                });
        for (String epoch : List.of("-999999999-01-01", "0000-01-01", "2026-13-01", "2026-1-1", "x".repeat(500))) {
            assertThatThrownBy(() -> admin.closeEpoch(io.diem.v1.CloseEpochRequest.newBuilder().setEpoch(epoch).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).as(epoch).isEqualTo(Status.Code.INVALID_ARGUMENT);
                        assertThat(e.getStatus().getDescription()).doesNotContain("SQL").doesNotContain("Exception");
                    });
        }
        assertThatThrownBy(() -> InferenceGrpc.newBlockingStub(as(adminKey)).getUsage(io.diem.v1.GetUsageRequest.newBuilder()
                .setPageSize(Integer.MIN_VALUE).build())).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).isEqualTo("page_size must be 0..1000, got 2147483648");
                });
        AdminGrpc.newBlockingStub(as(adminKey)).setModelPrice(io.diem.v1.ModelPrice.newBuilder().setModel("tiny").build());
        var generate = InferenceGrpc.newBlockingStub(as(adminKey));
        assertThatThrownBy(() -> generate.generate(io.diem.v1.GenerateRequest.newBuilder().setModel("tiny").setPrompt("hi")
                .setSampling(io.diem.v1.SamplingParams.newBuilder().setMaxTokens(-1)).build()).hasNext())
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).isEqualTo("max_tokens must be 1..4096 (0 = 256), got 4294967295");
                });
        // A 9 KB key is a wrong key, not a transport error.
        assertThatThrownBy(() -> AdminGrpc.newBlockingStub(as("k".repeat(9_000))).listModelPrices(
                ListModelPricesRequest.getDefaultInstance())).isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    }

    /** Runs diemctl in-process; returns {stdout, stderr}. */
    private static String[] run(String... args) {
        return run(Map.of(), args);
    }

    /** Runs diemctl in-process with {@code env} as its environment; returns {stdout, stderr}. */
    private static String[] run(Map<String, String> env, String... args) {
        CommandLine cli = Diemctl.commandLine(env);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        cli.execute(args);
        return new String[] {out.toString(), err.toString()};
    }
}
