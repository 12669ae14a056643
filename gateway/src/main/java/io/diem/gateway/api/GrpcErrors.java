package io.diem.gateway.api;

import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import io.diem.gateway.error.GatewayException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/**
 * The one place where the gateway's refusals become gRPC statuses, so no handler ever answers
 * UNKNOWN or INTERNAL for bad input: each {@link GatewayException.Kind} maps to the status of the
 * same name, a refusal with a reason carries it as {@code google.rpc.ErrorInfo}, and an
 * {@link IllegalArgumentException} from request parsing is INVALID_ARGUMENT.
 */
public final class GrpcErrors {

    private GrpcErrors() {}

    public static StatusRuntimeException status(GatewayException e) {
        Status.Code code = Status.Code.valueOf(e.kind().name());
        if (e.reason().isEmpty()) {
            return Status.fromCode(code).withDescription(e.getMessage()).asRuntimeException();
        }
        ErrorInfo info = ErrorInfo.newBuilder().setReason(e.reason()).setDomain("diem.v1").putAllMetadata(e.details()).build();
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(code.value())
                .setMessage(e.getMessage()).addDetails(Any.pack(info)).build());
    }

    /** The status a handler's failure is answered with; rethrows failures that are not refusals (bugs). */
    public static StatusRuntimeException toStatus(RuntimeException e) {
        if (e instanceof GatewayException g) {
            return status(g);
        }
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        if (e instanceof IllegalArgumentException) {
            return Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
        }
        throw e;
    }

    /** Runs a unary handler body and completes the call with its value or with the precise status. */
    public static <T> void unary(StreamObserver<T> observer, Supplier<T> body) {
        T value;
        try {
            value = body.get();
        } catch (GatewayException | StatusRuntimeException | IllegalArgumentException e) {
            observer.onError(toStatus(e));
            return;
        }
        observer.onNext(value);
        observer.onCompleted();
    }
}
