package io.diem.gateway.api;

import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.logging.Logger;

/**
 * Requests that do not parse (garbage, truncated, invalid UTF-8) are answered INVALID_ARGUMENT naming
 * the expected message, and logged as one line at most once a second in all. gRPC would otherwise
 * answer UNKNOWN and log a stack trace for each: a log-flood lever for anyone who can reach the port.
 * Each method of a service is rebuilt to take raw bytes and parse them itself before its handler runs.
 */
public final class StrictRequests {

    private static final Logger LOG = Logger.getLogger(StrictRequests.class.getName());
    private static final long LOG_INTERVAL_NANOS = 1_000_000_000L;
    private static final Object LOG_LOCK = new Object();
    private static long lastLogged = System.nanoTime() - LOG_INTERVAL_NANOS;
    private static long suppressed;

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException("cannot read a request's bytes", e);
            }
        }
    };

    private StrictRequests() {}

    /** {@code service} with every method parsing its requests as described above. */
    public static ServerServiceDefinition wrap(ServerServiceDefinition service) {
        ServiceDescriptor original = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        ServerServiceDefinition.Builder rebuilt = null;
        java.util.List<ServerMethodDefinition<byte[], ?>> methods = new java.util.ArrayList<>();
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            ServerMethodDefinition<byte[], ?> strict = strict(m);
            methods.add(strict);
            descriptor.addMethod(strict.getMethodDescriptor());
        }
        rebuilt = ServerServiceDefinition.builder(descriptor.build());
        for (ServerMethodDefinition<byte[], ?> m : methods) {
            rebuilt.addMethod(m);
        }
        return rebuilt.build();
    }

    private static <Q, R> ServerMethodDefinition<byte[], R> strict(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor<Q, R> md = m.getMethodDescriptor();
        MethodDescriptor<byte[], R> raw = md.toBuilder(BYTES, md.getResponseMarshaller()).build();
        ServerCallHandler<Q, R> handler = m.getServerCallHandler();
        return ServerMethodDefinition.create(raw, (call, headers) -> new Parsing<>(call, headers, md, handler));
    }

    /** The raw call's listener: parses each message with the method's own marshaller, or answers INVALID_ARGUMENT. */
    private static final class Parsing<Q, R> extends ServerCall.Listener<byte[]> {
        private final ServerCall<byte[], R> call;
        private final MethodDescriptor<Q, R> method;
        private final ServerCall.Listener<Q> delegate;
        private boolean refused;

        Parsing(ServerCall<byte[], R> call, Metadata headers, MethodDescriptor<Q, R> method, ServerCallHandler<Q, R> handler) {
            this.call = call;
            this.method = method;
            this.delegate = handler.startCall(new Typed<>(call, method), headers);
        }

        @Override
        public void onMessage(byte[] bytes) {
            if (refused) {
                return;
            }
            Q message;
            try {
                message = method.getRequestMarshaller().parse(new ByteArrayInputStream(bytes));
            } catch (RuntimeException e) {
                refused = true;
                String type = method.getRequestMarshaller() instanceof MethodDescriptor.ReflectableMarshaller<?> r
                        ? r.getMessageClass().getSimpleName() : "request";
                logRateLimited(method.getFullMethodName() + ": refused a request that is not a valid " + type + " ("
                        + bytes.length + " bytes)");
                call.close(Status.INVALID_ARGUMENT.withDescription("the request is not a valid diem.v1." + type
                        + " message (malformed, truncated or not UTF-8 where text is expected)"), new Metadata());
                return;
            }
            delegate.onMessage(message);
        }

        @Override
        public void onHalfClose() {
            if (!refused) {
                delegate.onHalfClose();
            }
        }

        @Override
        public void onCancel() {
            delegate.onCancel();
        }

        @Override
        public void onComplete() {
            delegate.onComplete();
        }

        @Override
        public void onReady() {
            if (!refused) {
                delegate.onReady();
            }
        }
    }

    /** The raw call as the typed one the original handler expects (requests arrive parsed through {@link Parsing}). */
    private static final class Typed<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<byte[], R> raw;
        private final MethodDescriptor<Q, R> method;

        Typed(ServerCall<byte[], R> raw, MethodDescriptor<Q, R> method) {
            this.raw = raw;
            this.method = method;
        }

        @Override
        public void request(int numMessages) {
            raw.request(numMessages);
        }

        @Override
        public void sendHeaders(Metadata headers) {
            raw.sendHeaders(headers);
        }

        @Override
        public void sendMessage(R message) {
            raw.sendMessage(message);
        }

        @Override
        public void close(Status status, Metadata trailers) {
            raw.close(status, trailers);
        }

        @Override
        public boolean isCancelled() {
            return raw.isCancelled();
        }

        @Override
        public boolean isReady() {
            return raw.isReady();
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            raw.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            raw.setCompression(compressor);
        }

        @Override
        public Attributes getAttributes() {
            return raw.getAttributes();
        }

        @Override
        public String getAuthority() {
            return raw.getAuthority();
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }
    }

    /** One line per second at most across the gateway, with a count of what was left out. */
    static void logRateLimited(String line) {
        synchronized (LOG_LOCK) {
            long now = System.nanoTime();
            if (now - lastLogged < LOG_INTERVAL_NANOS) {
                suppressed++;
                return;
            }
            LOG.warning(line + (suppressed == 0 ? "" : " (and " + suppressed + " more refused since the last line)"));
            suppressed = 0;
            lastLogged = now;
        }
    }
}
