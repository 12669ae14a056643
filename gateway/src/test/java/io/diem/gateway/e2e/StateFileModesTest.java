package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.diem.common.OwnerOnly;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every file the gateway and the agent create is the owner's only (files 0600, directories 0700),
 * though both programs run here under the common umask 022.
 */
class StateFileModesTest {

    @TempDir
    Path dir;

    @Test
    void theGatewaysDataDirectoryIsOwnerOnly() throws Exception {
        Path data = dir.resolve("gateway");
        int port = LocalCluster.freePort();
        Process gateway = new ProcessBuilder("sh", "-c", "umask 022 && exec \"$0\" -cp \"$1\" io.diem.gateway.cli.GatewayMain serve "
                + "--data-dir \"$2\" --port \"$3\" --metrics-port 0", LocalCluster.java(), System.getProperty("java.class.path"),
                data.toString(), String.valueOf(port))
                .redirectErrorStream(true).redirectOutput(dir.resolve("gateway.log").toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(dir.resolve("gateway.log")).contains("listening"));
            assertThat(Files.readString(dir.resolve("gateway.log"))).doesNotContain("SEVERE");
            assertOwnerOnly(data, List.of("admin.key", "ledger.mv.db"));
            assertThat(data.resolve("ledger.trace.db")).doesNotExist();
        } finally {
            gateway.destroy();
            gateway.waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void theAgentsStateDirectoryIsOwnerOnlyAfterItServedAJob() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            cluster.startAgent("a1");
            String node = cluster.nodeIdOf("a1");
            cluster.approveWhenRegistered(node);
            cluster.price(0, 1_000_000, 0);
            String[] app = cluster.stakedAccount(10_000_000);
            InferenceGrpc.newBlockingStub(cluster.as(app[1])).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .generate(GenerateRequest.newBuilder().setModel("tiny").setPrompt("hi")
                            .setSampling(SamplingParams.newBuilder().setMaxTokens(2)).build())
                    .forEachRemaining(r -> {});
            // Booked means the batch was sealed, shipped and acknowledged: the journal's checkpoint exists too.
            await().atMost(Duration.ofSeconds(30)).until(() -> cluster.ledger.usage(app[0], 10, "").size() == 1
                    && Files.exists(dir.resolve("a1/journal/checkpoint")));
            assertOwnerOnly(dir.resolve("a1"), List.of("node.key", "journal/receipts.log", "journal/batches.log",
                    "journal/checkpoint"));
        }
    }

    /** Every directory under {@code root} (itself included) is 0700 and every file 0600; {@code expected} files exist. */
    private static void assertOwnerOnly(Path root, List<String> expected) throws Exception {
        for (String name : expected) {
            assertThat(root.resolve(name)).exists();
        }
        List<String> wrong = new ArrayList<>();
        try (Stream<Path> all = Files.walk(root)) {
            all.forEach(p -> {
                try {
                    var mode = Files.getPosixFilePermissions(p);
                    var want = Files.isDirectory(p) ? OwnerOnly.DIRECTORY_MODE : OwnerOnly.FILE_MODE;
                    if (!mode.equals(want)) {
                        wrong.add(root.relativize(p) + " " + PosixFilePermissions.toString(mode));
                    }
                } catch (java.io.IOException e) {
                    wrong.add(p + " unreadable: " + e.getMessage());
                }
            });
        }
        assertThat(wrong).as("files and directories that are not owner-only").isEmpty();
    }
}
