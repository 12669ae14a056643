package io.diem.agent.model;

import io.diem.agent.tokenizer.Tokenizer;
import java.nio.file.Path;

/** A loaded model: where it came from, its shape, its weights and its tokenizer. */
public record Model(String name, Path directory, ModelConfig config, LlamaWeights weights, Tokenizer tokenizer) {}
