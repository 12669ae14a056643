package io.diem.gateway;

import io.diem.gateway.admin.AdminService;
import io.diem.gateway.admin.StakingService;
import io.diem.gateway.auth.ApiKeyInterceptor;
import io.diem.gateway.ledger.Ledger;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The gateway's gRPC server: Staking and Admin behind API-key authentication, plus the standard
 * health service and server reflection (so grpcurl works). Takes a {@link ServerBuilder} so tests
 * run it on port 0 or in-process.
 */
public final class GatewayServer {

    private static final Logger LOG = Logger.getLogger(GatewayServer.class.getName());

    private final Server server;
    private final HealthStatusManager health = new HealthStatusManager();

    public GatewayServer(ServerBuilder<?> builder, Ledger ledger) {
        ApiKeyInterceptor auth = new ApiKeyInterceptor(ledger);
        this.server = builder
                .addService(ServerInterceptors.intercept(new StakingService(ledger), auth))
                .addService(ServerInterceptors.intercept(new AdminService(ledger), auth))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .maxInboundMessageSize(4 << 20)
                .build();
    }

    public GatewayServer start() throws IOException {
        server.start();
        health.setStatus("", ServingStatus.SERVING);
        LOG.info("gateway listening on port " + server.getPort());
        return this;
    }

    public int port() {
        return server.getPort();
    }

    /** Stops taking calls, lets running ones finish for up to {@code graceSeconds}, then cuts the rest. */
    public void stop(long graceSeconds) throws InterruptedException {
        health.enterTerminalState();
        server.shutdown();
        if (!server.awaitTermination(graceSeconds, TimeUnit.SECONDS)) {
            LOG.warning("calls still running after " + graceSeconds + " s; cancelling them");
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    public void blockUntilShutdown() throws InterruptedException {
        server.awaitTermination();
    }
}
