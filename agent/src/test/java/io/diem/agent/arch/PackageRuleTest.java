package io.diem.agent.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The agent's package rules: engines describe themselves (device, meter kind, parallelism, GPU), so
 * nothing outside {@code engine/} knows a concrete engine; the math packages know nothing of gRPC;
 * no package cycles.
 */
class PackageRuleTest {

    private static final JavaClasses AGENT = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.diem.agent");

    @Test
    void onlyTheEnginePackageKnowsConcreteEngines() {
        noClasses().that().resideOutsideOfPackage("io.diem.agent.engine..")
                .should().dependOnClassesThat().resideInAnyPackage("io.diem.agent.engine.cpu..", "io.diem.agent.engine.cuda..")
                .check(AGENT);
    }

    @Test
    void modelTokenizerEngineAndMeteringAreFreeOfTheTransport() {
        noClasses().that().resideInAnyPackage("io.diem.agent.model..", "io.diem.agent.tokenizer..", "io.diem.agent.engine..",
                        "io.diem.agent.metering..", "io.diem.agent.journal..")
                .should().dependOnClassesThat().resideInAPackage("io.grpc..")
                .check(AGENT);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching("io.diem.agent.(*)..").should().beFreeOfCycles().check(AGENT);
    }
}
