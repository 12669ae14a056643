package io.diem.agent.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.diem.agent.model.TestModelMaker.Options;
import io.diem.agent.model.TestModelMaker.Preset;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bad-file case fails at load time with the file (and tensor) named. */
class ModelLoaderTest {

    @TempDir
    Path dir;
    Path model;

    @BeforeEach
    void makeModel() throws Exception {
        model = dir.resolve("tiny");
        TestModelMaker.make(model, Options.of(Preset.TINY, 2));
    }

    private ModelLoadException loadFailure() {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> new ModelLoader(null).load(model));
        assertThat(t).isInstanceOf(ModelLoadException.class);
        return (ModelLoadException) t;
    }

    @Test
    void loadsTheTestModel() throws Exception {
        Model m = new ModelLoader(null).load(model);
        assertThat(m.name()).isEqualTo("tiny");
        assertThat(m.config().groupSize).isEqualTo(2);
        assertThat(m.weights().wq[1].shape).containsExactly(64, 64);
        assertThat(m.config().parameterCount()).isEqualTo(m.weights().bytes() / 4);
    }

    @Test
    void unsupportedArchitecture() throws Exception {
        editConfig("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"");
        assertThat(loadFailure()).hasMessageContaining("config.json").hasMessageContaining("unsupported architecture \"gpt2\"");
    }

    @Test
    void missingTensorIsNamed() throws Exception {
        rewriteHeaderName("model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_prog.weight");
        assertThat(loadFailure()).hasMessageContaining("missing tensor model.layers.1.mlp.up_proj.weight");
    }

    @Test
    void wrongShapeNamesFileAndTensor() throws Exception {
        editConfig("\"intermediate_size\": 192", "\"intermediate_size\": 191");
        assertThat(loadFailure()).hasMessageContaining("model.safetensors")
                .hasMessageContaining("tensor model.layers.0.mlp.gate_proj.weight has shape [192, 64], expected [191, 64]");
    }

    @Test
    void truncatedFile() throws Exception {
        Path file = model.resolve("model.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        assertThat(loadFailure()).hasMessageContaining("model.safetensors").hasMessageContaining("truncated file: tensor");
    }

    @Test
    void fileShorterThanItsHeader() throws Exception {
        Path file = model.resolve("model.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(20);
        }
        assertThat(loadFailure()).hasMessageContaining("truncated safetensors file");
    }

    @Test
    void headerTooLarge() throws Exception {
        writeHeaderLength(SafeTensorsFile.MAX_HEADER_BYTES + 1);
        assertThat(loadFailure()).hasMessageContaining("too large");
    }

    @Test
    void malformedHeaderJson() throws Exception {
        Path file = model.resolve("model.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("{{{{".getBytes(StandardCharsets.US_ASCII)), 8);
        }
        assertThat(loadFailure()).hasMessageContaining("malformed safetensors header");
    }

    @Test
    void unsupportedDtypeNamesTheTensor() throws Exception {
        rewriteHeaderText("\"dtype\":\"F32\",\"shape\":[64]", "\"dtype\":\"I32\",\"shape\":[64]");
        assertThat(loadFailure()).hasMessageContaining("has dtype I32");
    }

    @Test
    void sizeThatDisagreesWithShape() throws Exception {
        rewriteHeaderText("\"shape\":[64],", "\"shape\":[65],");
        assertThat(loadFailure()).hasMessageContaining("bytes but shape [65]");
    }

    @Test
    void missingFiles() throws Exception {
        Files.delete(model.resolve("tokenizer.json"));
        assertThat(loadFailure()).hasMessageContaining("missing tokenizer.json");
        Files.delete(model.resolve("config.json"));
        assertThat(loadFailure()).hasMessageContaining("missing config.json");
    }

    @Test
    void ropeParametersBlockAndLlama3ScalingAreRead() throws Exception {
        editConfig("\"rope_theta\": 10000.0,", "\"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"llama3\", "
                + "\"factor\": 32.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192},");
        editConfig("\"rope_scaling\": null,", "");
        ModelConfig c = new ModelLoader(null).load(model).config();
        assertThat(c.ropeTheta).isEqualTo(500000.0);
        assertThat(c.ropeScaling.kind()).isEqualTo(RopeScaling.Kind.LLAMA3);
        assertThat(c.ropeScaling.factor()).isEqualTo(32.0);
    }

    @Test
    void unknownRopeScalingIsRefused() throws Exception {
        editConfig("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}");
        assertThat(loadFailure()).hasMessageContaining("unsupported rope scaling \"yarn\"");
    }

    private void editConfig(String from, String to) throws Exception {
        Path config = model.resolve("config.json");
        String text = Files.readString(config);
        assertThat(text).contains(from);
        Files.writeString(config, text.replace(from, to));
    }

    private void rewriteHeaderName(String from, String to) throws Exception {
        assertThat(from.length()).isEqualTo(to.length());
        rewriteHeaderText("\"" + from + "\"", "\"" + to + "\"");
    }

    /** Replaces text inside the JSON header, keeping its length by padding with spaces. */
    private void rewriteHeaderText(String from, String to) throws Exception {
        Path file = model.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(file);
        int headerLength = (int) ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(all, 8, headerLength, StandardCharsets.UTF_8);
        assertThat(header).contains(from);
        String edited = header.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to));
        assertThat(edited.length()).isLessThanOrEqualTo(header.length() + 8);
        StringBuilder padded = new StringBuilder(edited.strip());
        while (padded.length() < headerLength) {
            padded.append(' ');
        }
        assertThat(padded.length()).isEqualTo(headerLength);
        System.arraycopy(padded.toString().getBytes(StandardCharsets.UTF_8), 0, all, 8, headerLength);
        Files.write(file, all);
    }

    private void writeHeaderLength(long length) throws Exception {
        try (FileChannel ch = FileChannel.open(model.resolve("model.safetensors"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length), 0);
        }
    }
}
