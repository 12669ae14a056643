package io.diem.gateway.api;

import com.google.protobuf.Timestamp;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.v1.Account;
import io.diem.v1.ApiKeyInfo;
import io.diem.v1.Balance;
import io.diem.v1.KeyScope;
import io.diem.v1.MintQuote;
import io.diem.v1.ModelPrice;
import java.time.Instant;

/** Ledger views to wire messages. */
public final class Protos {

    private Protos() {}

    public static Timestamp timestamp(Instant instant) {
        return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
    }

    public static Balance balance(LedgerViews.Balance b) {
        return Balance.newBuilder()
                .setAccountId(b.accountId())
                .setAllowanceMicroUsd(b.allowance())
                .setSpentMicroUsd(b.spent())
                .setReservedMicroUsd(b.reserved())
                .setRemainingMicroUsd(b.remaining())
                .setResetsAt(timestamp(b.resetsAt()))
                .build();
    }

    public static Account account(LedgerViews.Account a) {
        Account.Builder b = Account.newBuilder()
                .setAccountId(a.accountId())
                .setName(a.name())
                .setVvvMicro(a.vvv())
                .setSvvvMicro(a.svvv())
                .setSvvvLockedMicro(a.svvvLocked())
                .setVvvUnstakingMicro(a.vvvUnstaking())
                .setDiemMicro(a.diem())
                .setDiemStakedMicro(a.diemStaked())
                .setDiemUnstakingMicro(a.diemUnstaking())
                .setDiemMintedMicro(a.diemMinted())
                .setBalance(balance(a.balance()))
                .setCreatedAt(timestamp(a.createdAt()));
        if (a.vvvUnstakingUntil() != null) {
            b.setVvvUnstakingUntil(timestamp(a.vvvUnstakingUntil()));
        }
        if (a.diemUnstakingUntil() != null) {
            b.setDiemUnstakingUntil(timestamp(a.diemUnstakingUntil()));
        }
        return b.build();
    }

    public static MintQuote quote(LedgerViews.MintQuote q) {
        return MintQuote.newBuilder()
                .setDiemMicro(q.diem())
                .setSvvvCostMicro(q.svvvCost())
                .setAverageRateMicro(q.averageRate())
                .setMarginalRateAfterMicro(q.marginalRateAfter())
                .setSupplyBeforeMicro(q.supplyBefore())
                .setSupplyAfterMicro(q.supplyAfter())
                .build();
    }

    public static ApiKeyInfo key(LedgerViews.ApiKey k) {
        ApiKeyInfo.Builder b = ApiKeyInfo.newBuilder()
                .setKeyId(k.keyId())
                .setAccountId(k.accountId())
                .setScope(k.scope() == LedgerViews.Scope.ADMIN ? KeyScope.KEY_SCOPE_ADMIN : KeyScope.KEY_SCOPE_INFERENCE)
                .setDailyLimitMicroUsd(k.dailyLimit())
                .setLabel(k.label())
                .setCreatedAt(timestamp(k.createdAt()));
        if (k.revokedAt() != null) {
            b.setRevokedAt(timestamp(k.revokedAt()));
        }
        return b.build();
    }

    public static ModelPrice price(Pricing p) {
        return ModelPrice.newBuilder()
                .setModel(p.model())
                .setPromptMicroUsdPerMillion(p.promptPerMillion())
                .setCompletionMicroUsdPerMillion(p.completionPerMillion())
                .setMicroUsdPerGpuSecond(p.perGpuSecond())
                .build();
    }
}
