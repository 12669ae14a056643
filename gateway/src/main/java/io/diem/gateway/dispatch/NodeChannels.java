package io.diem.gateway.dispatch;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** One long-lived channel per node endpoint (plaintext: loopback and trusted networks only until mTLS lands). */
public final class NodeChannels implements AutoCloseable {

    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    public ManagedChannel forEndpoint(String endpoint) {
        return channels.computeIfAbsent(endpoint, e -> Grpc.newChannelBuilder(e, InsecureChannelCredentials.create())
                .maxInboundMessageSize(8 << 20).build());
    }

    @Override
    public void close() throws InterruptedException {
        for (ManagedChannel c : channels.values()) {
            c.shutdown();
        }
        for (ManagedChannel c : channels.values()) {
            if (!c.awaitTermination(5, TimeUnit.SECONDS)) {
                c.shutdownNow();
            }
        }
    }
}
