package io.diem.gateway.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.diem.gateway.ledger.Units;
import io.diem.v1.Account;
import io.diem.v1.AdminGrpc;
import io.diem.v1.ApiKeyInfo;
import io.diem.v1.KeyScope;
import io.diem.v1.MintQuote;
import io.diem.v1.ModelPrice;
import io.diem.v1.StakingGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.concurrent.TimeUnit;

/**
 * What every {@code diemctl} command shares: the stubs, the bearer-key interceptor, the JSON form of
 * a response, and the human form of the messages several commands print. Amounts print as whole
 * tokens or dollars ({@link Units#format}).
 */
public final class CtlOutput {

    private CtlOutput() {}

    /** Adds {@code authorization: Bearer <secret>} and a 30 s deadline to every call. */
    public static ClientInterceptor bearer(String secret) {
        Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method,
                        options.withDeadlineAfter(30, TimeUnit.SECONDS))) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        headers.put(authorization, "Bearer " + secret);
                        super.start(listener, headers);
                    }
                };
            }
        };
    }

    static String json(MessageOrBuilder message) {
        try {
            return JsonFormat.printer().omittingInsignificantWhitespace().print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    static StakingGrpc.StakingBlockingStub staking(Channel c) {
        return StakingGrpc.newBlockingStub(c);
    }

    static AdminGrpc.AdminBlockingStub admin(Channel c) {
        return AdminGrpc.newBlockingStub(c);
    }

    static String describe(Account a) {
        var b = a.getBalance();
        StringBuilder s = new StringBuilder();
        s.append(String.format("account %s (%s)%n", a.getAccountId(), a.getName()));
        s.append(String.format("  VVV      liquid %s, staked %s (locked %s), unstaking %s%s%n", Units.format(a.getVvvMicro()),
                Units.format(a.getSvvvMicro() + a.getSvvvLockedMicro()), Units.format(a.getSvvvLockedMicro()),
                Units.format(a.getVvvUnstakingMicro()),
                a.hasVvvUnstakingUntil() ? " until " + instant(a.getVvvUnstakingUntil()) : ""));
        s.append(String.format("  DIEM     liquid %s, staked %s, unstaking %s%s, minted %s%n", Units.format(a.getDiemMicro()),
                Units.format(a.getDiemStakedMicro()), Units.format(a.getDiemUnstakingMicro()),
                a.hasDiemUnstakingUntil() ? " until " + instant(a.getDiemUnstakingUntil()) : "",
                Units.format(a.getDiemMintedMicro())));
        s.append(String.format("  credit   $%s today: spent $%s, reserved $%s, remaining $%s (resets %s)",
                Units.format(b.getAllowanceMicroUsd()), Units.format(b.getSpentMicroUsd()), Units.format(b.getReservedMicroUsd()),
                Units.format(b.getRemainingMicroUsd()), instant(b.getResetsAt())));
        return s.toString();
    }

    static String instant(com.google.protobuf.Timestamp t) {
        return java.time.Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString();
    }

    static String describe(ApiKeyInfo k) {
        return String.format("%s  account %s  scope %s  daily limit %s  %s%s", k.getKeyId(), k.getAccountId(),
                k.getScope() == KeyScope.KEY_SCOPE_ADMIN ? "admin" : "inference",
                k.getDailyLimitMicroUsd() == 0 ? "none" : "$" + Units.format(k.getDailyLimitMicroUsd()),
                k.getLabel().isEmpty() ? "" : "'" + k.getLabel() + "'", k.hasRevokedAt() ? "  REVOKED " + instant(k.getRevokedAt()) : "");
    }

    static String describe(MintQuote q) {
        return String.format("mint %s DIEM: %s sVVV locked (average %s sVVV/DIEM, marginal after %s); supply %s -> %s",
                Units.format(q.getDiemMicro()), Units.format(q.getSvvvCostMicro()), Units.format(q.getAverageRateMicro()),
                Units.format(q.getMarginalRateAfterMicro()), Units.format(q.getSupplyBeforeMicro()),
                Units.format(q.getSupplyAfterMicro()));
    }

    static String describe(ModelPrice p) {
        return String.format("%s  prompt $%s/1M tokens  completion $%s/1M tokens  $%s/GPU-second", p.getModel(),
                Units.format(p.getPromptMicroUsdPerMillion()), Units.format(p.getCompletionMicroUsdPerMillion()),
                Units.format(p.getMicroUsdPerGpuSecond()));
    }

}
