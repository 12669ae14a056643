package io.diem.gateway.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The gateway's package rule (docs/architecture.md): {@code api → call | ledger | nodes | usage |
 * settlement → store}, with {@code cli} and the composition root {@code GatewayServer} above all,
 * and {@code error} and {@code metrics} usable everywhere. Only {@code api/} (and the {@code cli}
 * client) speaks gRPC status; domain code throws {@code GatewayException}.
 */
class PackageRuleTest {

    private static final JavaClasses GATEWAY = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.diem.gateway");

    private static final String[] DOMAIN = {"..gateway.call..", "..gateway.ledger..", "..gateway.nodes..", "..gateway.usage..",
        "..gateway.settlement..", "..gateway.store..", "..gateway.error..", "..gateway.metrics.."};

    @Test
    void dependenciesPointOneWay() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("cli").definedBy("io.diem.gateway.cli..")
                .layer("root").definedBy("io.diem.gateway")
                .layer("api").definedBy("io.diem.gateway.api..")
                .layer("call").definedBy("io.diem.gateway.call..")
                .layer("usage").definedBy("io.diem.gateway.usage..")
                .layer("settlement").definedBy("io.diem.gateway.settlement..")
                .layer("ledger").definedBy("io.diem.gateway.ledger..")
                .layer("nodes").definedBy("io.diem.gateway.nodes..")
                .layer("store").definedBy("io.diem.gateway.store..")
                .layer("shared").definedBy("io.diem.gateway.error..", "io.diem.gateway.metrics..")
                .whereLayer("cli").mayNotBeAccessedByAnyLayer()
                .whereLayer("root").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("api").mayOnlyBeAccessedByLayers("root", "cli")
                .whereLayer("usage").mayOnlyBeAccessedByLayers("api", "root", "cli")
                .whereLayer("settlement").mayOnlyBeAccessedByLayers("api", "root", "cli")
                .whereLayer("call").mayOnlyBeAccessedByLayers("api", "usage", "root", "cli")
                .whereLayer("ledger").mayOnlyBeAccessedByLayers("api", "call", "usage", "settlement", "root", "cli")
                .whereLayer("nodes").mayOnlyBeAccessedByLayers("api", "call", "usage", "settlement", "root", "cli")
                .whereLayer("store").mayOnlyBeAccessedByLayers("api", "call", "usage", "settlement", "ledger", "nodes", "root", "cli")
                .check(GATEWAY);
    }

    @Test
    void sharedPackagesDependOnNothingOfTheGateway() {
        noClasses().that().resideInAnyPackage("..gateway.error..", "..gateway.metrics..")
                .should().dependOnClassesThat().resideInAnyPackage("..gateway.api..", "..gateway.call..", "..gateway.ledger..",
                        "..gateway.nodes..", "..gateway.usage..", "..gateway.settlement..", "..gateway.store..", "..gateway.cli..")
                .check(GATEWAY);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching("io.diem.gateway.(*)..").should().beFreeOfCycles().check(GATEWAY);
    }

    @Test
    void onlyApiAndTheCliClientUseGrpcStatus() {
        noClasses().that().resideOutsideOfPackages("..gateway.api..", "..gateway.cli..")
                .should().dependOnClassesThat().haveFullyQualifiedName("io.grpc.Status")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("io.grpc.StatusRuntimeException")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("io.grpc.protobuf.StatusProto")
                .check(GATEWAY);
    }

    @Test
    void domainCodeIsFreeOfTheTransport() {
        noClasses().that().resideInAnyPackage(DOMAIN).should().dependOnClassesThat().resideInAPackage("io.grpc..").check(GATEWAY);
    }
}
