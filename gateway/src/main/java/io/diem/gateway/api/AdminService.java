package io.diem.gateway.api;

import static io.diem.gateway.api.GrpcErrors.unary;

import com.google.protobuf.ByteString;
import io.diem.common.UnixMicros;
import io.diem.gateway.error.GatewayException;
import io.diem.gateway.ledger.EpochReport;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.ledger.Pricing;
import io.diem.gateway.nodes.Node;
import io.diem.gateway.nodes.NodeDirectory;
import io.diem.gateway.settlement.Merkle;
import io.diem.gateway.settlement.Settlement;
import io.diem.v1.Account;
import io.diem.v1.AdminGrpc;
import io.diem.v1.AmountRequest;
import io.diem.v1.ApiKeyInfo;
import io.diem.v1.CloseEpochRequest;
import io.diem.v1.CreateAccountRequest;
import io.diem.v1.CreateApiKeyRequest;
import io.diem.v1.CreatedApiKey;
import io.diem.v1.EpochRequest;
import io.diem.v1.ListAccountsRequest;
import io.diem.v1.ListAccountsResponse;
import io.diem.v1.ListApiKeysRequest;
import io.diem.v1.ListApiKeysResponse;
import io.diem.v1.ListEpochsRequest;
import io.diem.v1.ListEpochsResponse;
import io.diem.v1.ListModelPricesRequest;
import io.diem.v1.ListModelPricesResponse;
import io.diem.v1.ListNodesRequest;
import io.diem.v1.ListNodesResponse;
import io.diem.v1.ModelPrice;
import io.diem.v1.NodeIdRequest;
import io.diem.v1.NodeInfo;
import io.diem.v1.Payout;
import io.diem.v1.PayoutProof;
import io.diem.v1.PayoutProofRequest;
import io.diem.v1.RecipientKind;
import io.diem.v1.RevokeApiKeyRequest;
import io.diem.v1.SettlementReport;
import io.grpc.stub.StreamObserver;
import java.util.List;

/** {@code diem.v1.Admin}: accounts, keys, prices, nodes, epochs and settlement. Admin keys only. */
public final class AdminService extends AdminGrpc.AdminImplBase {

    private final Ledger ledger;
    private final NodeDirectory nodes;
    private final Settlement settlement;

    public AdminService(Ledger ledger, NodeDirectory nodes, Settlement settlement) {
        this.ledger = ledger;
        this.nodes = nodes;
        this.settlement = settlement;
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

    @Override
    public void listNodes(ListNodesRequest r, StreamObserver<ListNodesResponse> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            ListNodesResponse.Builder b = ListNodesResponse.newBuilder();
            nodes.nodes().forEach(n -> b.addNodes(node(n)));
            return b.build();
        });
    }

    @Override
    public void approveNode(NodeIdRequest r, StreamObserver<NodeInfo> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            return node(nodes.approve(r.getNodeId()));
        });
    }

    @Override
    public void revokeNode(NodeIdRequest r, StreamObserver<NodeInfo> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            return node(nodes.revoke(r.getNodeId()));
        });
    }

    private NodeInfo node(Node n) {
        NodeInfo.Builder b = NodeInfo.newBuilder().setNodeId(n.nodeId()).setEndpoint(n.endpoint()).setState(nodes.state(n))
                .setActiveJobs(n.running() + n.queued()).setRegisteredAt(Protos.timestamp(UnixMicros.instant(n.registeredAt())))
                .setAgentVersion(n.agentVersion());
        if (n.lastHeartbeatAt() > 0) {
            b.setLastHeartbeatAt(Protos.timestamp(UnixMicros.instant(n.lastHeartbeatAt())));
        }
        if (n.flagReason() != null) {
            b.setFlagReason(n.flagReason());
        }
        n.models().forEach(m -> b.addModels(m.name()));
        return b.build();
    }

    @Override
    public void closeEpoch(CloseEpochRequest r, StreamObserver<SettlementReport> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            String epoch = r.getEpoch().isEmpty() ? UnixMicros.day(ledger.now() - UnixMicros.PER_DAY) : r.getEpoch();
            return report(settlement.close(epoch));
        });
    }

    @Override
    public void listEpochs(ListEpochsRequest r, StreamObserver<ListEpochsResponse> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            ListEpochsResponse.Builder b = ListEpochsResponse.newBuilder();
            settlement.list().forEach(e -> b.addEpochs(report(e).toBuilder().clearPayouts()));
            return b.build();
        });
    }

    @Override
    public void getSettlement(EpochRequest r, StreamObserver<SettlementReport> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            return report(closed(r.getEpoch()));
        });
    }

    @Override
    public void getPayoutProof(PayoutProofRequest r, StreamObserver<PayoutProof> o) {
        unary(o, () -> {
            Caller.requireAdmin();
            EpochReport report = closed(r.getEpoch());
            Merkle.Proof proof = settlement.proof(report, r.getRecipient());
            EpochReport.Payout payout = report.payouts().stream().filter(p -> p.recipient().equals(r.getRecipient())).findFirst()
                    .orElseThrow();
            PayoutProof.Builder b = PayoutProof.newBuilder().setEpoch(report.epoch()).setPayout(payout(payout))
                    .setLeaf(ByteString.copyFrom(proof.leaf())).setMerkleRoot(ByteString.copyFrom(report.merkleRoot()));
            proof.siblings().forEach(sib -> b.addSiblings(ByteString.copyFrom(sib)));
            b.addAllSiblingIsLeft(proof.siblingIsLeft());
            return b.build();
        });
    }

    private EpochReport closed(String epoch) {
        return settlement.report(epoch).orElseThrow(() -> new GatewayException(GatewayException.Kind.NOT_FOUND, "epoch " + epoch + " is not closed (diemctl epoch close)"));
    }

    static SettlementReport report(EpochReport e) {
        SettlementReport.Builder b = SettlementReport.newBuilder().setEpoch(e.epoch())
                .setClosedAt(Protos.timestamp(UnixMicros.instant(e.closedAt()))).setFeesMicroUsd(e.fees())
                .setGpuMicrosSold(e.gpuMicrosSold()).setGpuMicrosOffered(e.gpuMicrosOffered())
                .setUtilizationPpm((int) e.utilizationPpm()).setProviderPayoutMicroUsd(e.providerPayout())
                .setStakerPayoutMicroUsd(e.stakerPayout()).setAverageVvvStakedMicro(e.averageVvvStaked())
                .setStakerYieldMicroUsdPerVvv(e.yieldPerVvv()).setStakerYieldAnnualisedMicroUsdPerVvv(e.yieldPerVvvAnnualised())
                .setMerkleRoot(ByteString.copyFrom(e.merkleRoot()));
        e.payouts().forEach(p -> b.addPayouts(payout(p)));
        return b.build();
    }

    static Payout payout(EpochReport.Payout p) {
        return Payout.newBuilder().setKind(p.kind() == EpochReport.Recipient.PROVIDER ? RecipientKind.RECIPIENT_KIND_PROVIDER
                : RecipientKind.RECIPIENT_KIND_STAKER).setRecipient(p.recipient()).setAmountMicroUsd(p.amount()).build();
    }

    /** A {@code uint32 page_size}: 0 means 100; above 1000 (read unsigned) is INVALID_ARGUMENT. */
    static int pageSize(int requested) {
        if (Integer.compareUnsigned(requested, 1000) > 0) {
            throw new IllegalArgumentException("page_size must be 0..1000, got " + Integer.toUnsignedString(requested));
        }
        return requested == 0 ? 100 : requested;
    }
}
