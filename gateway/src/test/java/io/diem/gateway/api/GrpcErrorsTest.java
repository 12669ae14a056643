package io.diem.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.error.GatewayException.Kind;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every refusal kind reaches the client as the status of the same name, with its message and details. */
class GrpcErrorsTest {

    @Test
    void eachKindIsTheStatusOfTheSameName() {
        for (Kind kind : Kind.values()) {
            StatusRuntimeException s = GrpcErrors.status(new GatewayException(kind, "because " + kind));
            assertThat(s.getStatus().getCode().name()).isEqualTo(kind.name());
            assertThat(s.getStatus().getDescription()).isEqualTo("because " + kind);
        }
    }

    @Test
    void aReasonTravelsAsErrorInfo() throws Exception {
        StatusRuntimeException s = GrpcErrors.status(new GatewayException(Kind.RESOURCE_EXHAUSTED, "not enough credit",
                "INSUFFICIENT_CREDIT", Map.of("needed_micro_usd", "149", "remaining_micro_usd", "12")));
        assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(s.getStatus().getDescription()).isEqualTo("not enough credit");
        ErrorInfo info = StatusProto.fromThrowable(s).getDetails(0).unpack(ErrorInfo.class);
        assertThat(info.getReason()).isEqualTo("INSUFFICIENT_CREDIT");
        assertThat(info.getDomain()).isEqualTo("diem.v1");
        assertThat(info.getMetadataMap()).containsExactlyInAnyOrderEntriesOf(Map.of("needed_micro_usd", "149",
                "remaining_micro_usd", "12"));
    }

    @Test
    void unaryAnswersRefusalsAndBadArgumentsWithPreciseStatuses() {
        assertThat(unaryError(() -> {
            throw new GatewayException(Kind.NOT_FOUND, "no account 'x'");
        })).satisfies(s -> {
            assertThat(s.getCode()).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(s.getDescription()).isEqualTo("no account 'x'");
        });
        assertThat(unaryError(() -> {
            throw new IllegalArgumentException("page_size must be 0..1000, got 5000");
        })).satisfies(s -> {
            assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(s.getDescription()).isEqualTo("page_size must be 0..1000, got 5000");
        });
    }

    private static Status unaryError(java.util.function.Supplier<String> body) {
        List<Throwable> errors = new ArrayList<>();
        GrpcErrors.unary(new StreamObserver<String>() {
            @Override
            public void onNext(String value) {}

            @Override
            public void onError(Throwable t) {
                errors.add(t);
            }

            @Override
            public void onCompleted() {}
        }, body);
        assertThat(errors).hasSize(1);
        return Status.fromThrowable(errors.get(0));
    }
}
