package io.diem.gateway.admin;

import static io.diem.gateway.api.GrpcErrors.unary;

import io.diem.gateway.api.Protos;
import io.diem.gateway.auth.Caller;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.v1.Account;
import io.diem.v1.AdminGrpc;
import io.diem.v1.AmountRequest;
import io.diem.v1.ApiKeyInfo;
import io.diem.v1.CreateAccountRequest;
import io.diem.v1.CreateApiKeyRequest;
import io.diem.v1.CreatedApiKey;
import io.diem.v1.ListAccountsRequest;
import io.diem.v1.ListAccountsResponse;
import io.diem.v1.ListApiKeysRequest;
import io.diem.v1.ListApiKeysResponse;
import io.diem.v1.ListModelPricesRequest;
import io.diem.v1.ListModelPricesResponse;
import io.diem.v1.ModelPrice;
import io.diem.v1.RevokeApiKeyRequest;
import io.grpc.stub.StreamObserver;
import java.util.List;

/**
 * {@code diem.v1.Admin}: accounts, keys and prices (this service); nodes and settlement are served
 * once the node registry and epochs exist (their methods answer UNIMPLEMENTED until then).
 */
public final class AdminService extends AdminGrpc.AdminImplBase {

    private final Ledger ledger;

    public AdminService(Ledger ledger) {
        this.ledger = ledger;
    }

    @Override
    public void createAccount(CreateAccountRequest r, StreamObserver<Account> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            return Protos.account(ledger.createAccount(r.getName()));
        });
    }

    @Override
    public void listAccounts(ListAccountsRequest r, StreamObserver<ListAccountsResponse> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            int size = pageSize(r.getPageSize());
            List<LedgerViews.Account> page = ledger.accounts(size, r.getPageToken());
            ListAccountsResponse.Builder b = ListAccountsResponse.newBuilder();
            page.forEach(a -> b.addAccounts(Protos.account(a)));
            if (page.size() == size) {
                b.setNextPageToken(page.get(page.size() - 1).accountId());
            }
            return b.build();
        });
    }

    @Override
    public void depositVvv(AmountRequest r, StreamObserver<Account> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            if (r.getAccountId().isEmpty()) {
                throw new IllegalArgumentException("account_id is required");
            }
            return Protos.account(ledger.depositVvv(r.getAccountId(), r.getAmountMicro()));
        });
    }

    @Override
    public void createApiKey(CreateApiKeyRequest r, StreamObserver<CreatedApiKey> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            LedgerViews.Scope scope = switch (r.getScope()) {
                case KEY_SCOPE_ADMIN -> LedgerViews.Scope.ADMIN;
                case KEY_SCOPE_INFERENCE, KEY_SCOPE_UNSPECIFIED -> LedgerViews.Scope.INFERENCE;
                default -> throw new IllegalArgumentException("unknown key scope " + r.getScopeValue());
            };
            LedgerViews.CreatedKey created = ledger.createKey(r.getAccountId(), scope, r.getDailyLimitMicroUsd(), r.getLabel());
            return CreatedApiKey.newBuilder().setInfo(Protos.key(created.key())).setSecret(created.secret()).build();
        });
    }

    @Override
    public void listApiKeys(ListApiKeysRequest r, StreamObserver<ListApiKeysResponse> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            ListApiKeysResponse.Builder b = ListApiKeysResponse.newBuilder();
            ledger.keys(r.getAccountId()).forEach(k -> b.addKeys(Protos.key(k)));
            return b.build();
        });
    }

    @Override
    public void revokeApiKey(RevokeApiKeyRequest r, StreamObserver<ApiKeyInfo> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            return Protos.key(ledger.revokeKey(r.getKeyId()));
        });
    }

    @Override
    public void setModelPrice(ModelPrice r, StreamObserver<ModelPrice> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            return Protos.price(ledger.setPrice(new Pricing(r.getModel(), r.getPromptMicroUsdPerMillion(),
                    r.getCompletionMicroUsdPerMillion(), r.getMicroUsdPerGpuSecond())));
        });
    }

    @Override
    public void listModelPrices(ListModelPricesRequest r, StreamObserver<ListModelPricesResponse> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            ListModelPricesResponse.Builder b = ListModelPricesResponse.newBuilder();
            ledger.prices().forEach(p -> b.addPrices(Protos.price(p)));
            return b.build();
        });
    }

    static int pageSize(int requested) {
        if (requested < 0 || requested > 1000) {
            throw new IllegalArgumentException("page_size must be 0..1000, got " + requested);
        }
        return requested == 0 ? 100 : requested;
    }
}
