package io.diem.gateway.api;

import io.diem.gateway.ledger.LedgerException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/** Maps the gateway's domain errors onto gRPC statuses, so no handler ever answers UNKNOWN or INTERNAL for bad input. */
public final class GrpcErrors {

    private GrpcErrors() {}

    public static Status status(LedgerException e) {
        Status s = switch (e.kind()) {
            case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.NOT_FOUND;
            case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
            case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
            case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
            case UNAVAILABLE -> Status.UNAVAILABLE;
        };
        return s.withDescription(e.getMessage());
    }

    /** Runs a unary handler body and completes the call with its value or with the precise status. */
    public static <T> void unary(StreamObserver<T> observer, Supplier<T> body) {
        T value;
        try {
            value = body.get();
        } catch (LedgerException e) {
            observer.onError(status(e).asRuntimeException());
            return;
        } catch (StatusRuntimeException e) {
            observer.onError(e);
            return;
        } catch (IllegalArgumentException e) {
            observer.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        observer.onNext(value);
        observer.onCompleted();
    }
}
