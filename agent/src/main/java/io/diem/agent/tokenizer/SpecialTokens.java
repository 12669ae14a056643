package io.diem.agent.tokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import java.util.ArrayList;
import java.util.List;

/**
 * The begin- and end-of-sequence ids a model's {@code config.json} names, which take precedence over
 * the tokenizer's own files.
 *
 * @param bosTokenId the BOS id, or -1 when the config names none
 */
public record SpecialTokens(int bosTokenId, List<Integer> eosTokenIds) {

    public SpecialTokens {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** The ids of a token-id field, which Hugging Face files write as one id or a list ({@code 2} or {@code [2, 3]}). */
    public static List<Integer> idsOf(JsonElement element) {
        List<Integer> ids = new ArrayList<>();
        if (element == null || element.isJsonNull()) {
            return ids;
        }
        if (element.isJsonArray()) {
            JsonArray array = element.getAsJsonArray();
            for (JsonElement e : array) {
                ids.add(e.getAsInt());
            }
        } else {
            ids.add(element.getAsInt());
        }
        return ids;
    }
}
