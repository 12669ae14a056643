package io.diem.gateway.api;

import static io.diem.gateway.api.GrpcErrors.unary;

import io.diem.gateway.ledger.Ledger;
import io.diem.v1.Account;
import io.diem.v1.AccountRequest;
import io.diem.v1.AmountRequest;
import io.diem.v1.MintDiemRequest;
import io.diem.v1.MintQuote;
import io.diem.v1.MintResult;
import io.diem.v1.QuoteMintRequest;
import io.diem.v1.StakingGrpc;
import io.grpc.stub.StreamObserver;

/** {@code diem.v1.Staking}: an account's VVV and DIEM. Inference keys reach their own account only. */
public final class StakingService extends StakingGrpc.StakingImplBase {

    private final Ledger ledger;

    public StakingService(Ledger ledger) {
        this.ledger = ledger;
    }

    @Override
    public void stakeVvv(AmountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.stakeVvv(Caller.account(r.getAccountId()), r.getAmountMicro())));
    }

    @Override
    public void unstakeVvv(AmountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.unstakeVvv(Caller.account(r.getAccountId()), r.getAmountMicro())));
    }

    @Override
    public void withdrawVvv(AccountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.withdrawVvv(Caller.account(r.getAccountId()))));
    }

    @Override
    public void quoteMint(QuoteMintRequest r, StreamObserver<MintQuote> o) {
        unary(o, () -> {
            Caller.key();
            return Protos.quote(ledger.quoteMint(r.getDiemMicro()));
        });
    }

    @Override
    public void mintDiem(MintDiemRequest r, StreamObserver<MintResult> o) {
        unary(o, () -> {
            String account = Caller.account(r.getAccountId());
            if (r.getMaxSvvvCostMicro() < 0) {
                throw new IllegalArgumentException("max_svvv_cost_micro must be >= 0, got " + r.getMaxSvvvCostMicro());
            }
            var quote = ledger.mint(account, r.getDiemMicro(), r.getMaxSvvvCostMicro());
            return MintResult.newBuilder().setQuote(Protos.quote(quote)).setAccount(Protos.account(ledger.account(account))).build();
        });
    }

    @Override
    public void burnDiem(AmountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.burn(Caller.account(r.getAccountId()), r.getAmountMicro())));
    }

    @Override
    public void stakeDiem(AmountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.stakeDiem(Caller.account(r.getAccountId()), r.getAmountMicro())));
    }

    @Override
    public void unstakeDiem(AmountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.unstakeDiem(Caller.account(r.getAccountId()), r.getAmountMicro())));
    }

    @Override
    public void getAccount(AccountRequest r, StreamObserver<Account> o) {
        unary(o, () -> Protos.account(ledger.account(Caller.account(r.getAccountId()))));
    }
}
