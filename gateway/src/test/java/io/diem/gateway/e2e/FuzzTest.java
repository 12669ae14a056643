package io.diem.gateway.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.gateway.cli.CtlOutput;
import io.diem.v1.AdminGrpc;
import io.diem.v1.GenerateRequest;
import io.diem.v1.InferenceGrpc;
import io.diem.v1.ListModelPricesRequest;
import io.diem.v1.NodeRegistryGrpc;
import io.diem.v1.SamplingParams;
import io.diem.v1.StakingGrpc;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random and mutated bytes over every public and node method, with and without a key: every answer
 * is a precise status (never UNKNOWN or INTERNAL), the gateway stays healthy, and its log grows by a
 * bounded number of lines.
 */
class FuzzTest {

    @TempDir
    java.nio.file.Path dir;

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    };

    @Test
    void twoThousandRandomAndMutatedMessagesGetPreciseStatusesAndBoundedLogs() throws Exception {
        try (LocalCluster cluster = new LocalCluster(dir, io.diem.gateway.store.Db.h2Url(dir.resolve("ledger")),
                Duration.ofMinutes(5), 3)) {
            List<MethodDescriptor<?, ?>> methods = new ArrayList<>();
            for (ServiceDescriptor service : List.of(InferenceGrpc.getServiceDescriptor(), StakingGrpc.getServiceDescriptor(),
                    AdminGrpc.getServiceDescriptor(), NodeRegistryGrpc.getServiceDescriptor())) {
                methods.addAll(service.getMethods());
            }
            List<byte[]> seeds = List.of(
                    GenerateRequest.newBuilder().setModel("tiny").setPrompt("hello")
                            .setSampling(SamplingParams.newBuilder().setMaxTokens(4)).build().toByteArray(),
                    ListModelPricesRequest.getDefaultInstance().toByteArray(),
                    io.diem.v1.AmountRequest.newBuilder().setAccountId("acct_x").setAmountMicro(Long.MAX_VALUE).build().toByteArray(),
                    io.diem.v1.CloseEpochRequest.newBuilder().setEpoch("-999999999-01-01").build().toByteArray());
            CountingHandler logged = new CountingHandler();
            Logger root = Logger.getLogger("");
            root.addHandler(logged);
            Map<Status.Code, Integer> codes = new EnumMap<>(Status.Code.class);
            List<String> bad = new ArrayList<>();
            Random random = new Random(20261202);
            long start = System.nanoTime();
            try {
                for (int i = 0; i < 2000; i++) {
                    MethodDescriptor<?, ?> m = methods.get(random.nextInt(methods.size()));
                    byte[] body = i % 2 == 0 ? randomBytes(random) : mutate(seeds.get(random.nextInt(seeds.size())), random);
                    String key = i % 3 == 0 ? null : i % 3 == 1 ? cluster.adminKey : "x".repeat(9_000);
                    Status s = call(cluster.channel, m, body, key);
                    codes.merge(s.getCode(), 1, Integer::sum);
                    if (s.getCode() == Status.Code.UNKNOWN || s.getCode() == Status.Code.INTERNAL) {
                        if (bad.size() < 10) {
                            bad.add(m.getFullMethodName() + ": " + s);
                        }
                    }
                }
            } finally {
                root.removeHandler(logged);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(bad).as("UNKNOWN/INTERNAL answers (codes seen: %s)", codes).isEmpty();
            assertThat(logged.lines).as("log lines at WARNING or above in %.1f s: %s", seconds, logged.sample)
                    .isLessThanOrEqualTo((int) Math.ceil(seconds) + 5);
            // Still healthy: a real admin call works.
            assertThat(AdminGrpc.newBlockingStub(cluster.channel).withInterceptors(CtlOutput.bearer(cluster.adminKey))
                    .listModelPrices(ListModelPricesRequest.getDefaultInstance())).isNotNull();
        }
    }

    private static byte[] randomBytes(Random random) {
        byte[] b = new byte[random.nextInt(200)];
        random.nextBytes(b);
        return b;
    }

    private static byte[] mutate(byte[] seed, Random random) {
        byte[] b = seed.clone();
        switch (random.nextInt(3)) {
            case 0 -> {
                for (int k = 0; k < 1 + random.nextInt(4) && b.length > 0; k++) {
                    b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
                }
            }
            case 1 -> b = java.util.Arrays.copyOf(b, random.nextInt(b.length + 1)); // truncated
            default -> {
                byte[] longer = java.util.Arrays.copyOf(b, b.length + 8);
                for (int k = b.length; k < longer.length; k++) {
                    longer[k] = (byte) 0xff; // invalid UTF-8 and varints past the end
                }
                b = longer;
            }
        }
        return b;
    }

    private static Status call(ManagedChannel channel, MethodDescriptor<?, ?> method, byte[] body, String key) throws Exception {
        MethodDescriptor<byte[], byte[]> raw = MethodDescriptor.<byte[], byte[]>newBuilder(BYTES, BYTES)
                .setFullMethodName(method.getFullMethodName()).setType(method.getType()).build();
        ClientCall<byte[], byte[]> call = channel.newCall(raw, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
        CompletableFuture<Status> done = new CompletableFuture<>();
        Metadata headers = new Metadata();
        if (key != null) {
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
        }
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                done.complete(status);
            }
        }, headers);
        call.request(16);
        call.sendMessage(body);
        call.halfClose();
        Status s = done.get(20, TimeUnit.SECONDS);
        return s;
    }

    /** Counts log records at WARNING and above. */
    private static final class CountingHandler extends Handler {
        volatile int lines;
        final List<String> sample = new ArrayList<>();

        @Override
        public synchronized void publish(LogRecord record) {
            if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                lines++;
                if (sample.size() < 5) {
                    sample.add(record.getLoggerName() + ": " + record.getMessage());
                }
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
