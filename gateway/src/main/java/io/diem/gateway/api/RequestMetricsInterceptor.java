package io.diem.gateway.api;

import io.diem.gateway.metrics.GatewayMetrics;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/** Counts every finished call by method and status code ({@code diem_gateway_requests_total}). */
public final class RequestMetricsInterceptor implements ServerInterceptor {

    private final GatewayMetrics metrics;

    public RequestMetricsInterceptor(GatewayMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                metrics.request(method, status.getCode().name());
                super.close(status, trailers);
            }
        }, headers);
    }
}
