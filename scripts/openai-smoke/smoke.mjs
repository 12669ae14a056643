// The official OpenAI SDK pointed at a diem-compute gateway: list models, a chat completion, a
// streamed chat completion with usage, and a refusal once credit is gone. Prints one JSON line with
// what it saw; exits non-zero on anything unexpected.
//
//   DIEM_BASE_URL=http://127.0.0.1:7080/v1 DIEM_KEY=... DIEM_POOR_KEY=... DIEM_MODEL=tiny node smoke.mjs
import OpenAI from "openai";

const baseURL = process.env.DIEM_BASE_URL;
const model = process.env.DIEM_MODEL || "tiny";
const client = new OpenAI({ baseURL, apiKey: process.env.DIEM_KEY, maxRetries: 0, timeout: 60_000 });
const fail = (message) => {
  console.error("smoke: " + message);
  process.exit(1);
};

const models = await client.models.list();
const ids = models.data.map((m) => m.id);
if (!ids.includes(model)) fail("models.list has no " + model + ": " + JSON.stringify(ids));

const completion = await client.chat.completions.create({
  model,
  messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }],
  max_tokens: 6,
  temperature: 0,
});
if (completion.object !== "chat.completion") fail("object " + completion.object);
if (completion.choices[0].message.role !== "assistant") fail("role " + completion.choices[0].message.role);
if (completion.usage.total_tokens !== completion.usage.prompt_tokens + completion.usage.completion_tokens) fail("usage sums");

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "The node agent" }],
  max_tokens: 8,
  seed: 7,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let usage = null;
let streamCost = null;
let finish = null;
for await (const chunk of stream) {
  if (chunk.object !== "chat.completion.chunk") fail("chunk object " + chunk.object);
  if (chunk.choices.length > 0) {
    text += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  if (chunk.usage) {
    usage = chunk.usage;
    streamCost = chunk.diem.cost_micro_usd;
  }
}
if (!usage || usage.completion_tokens < 1) fail("no usage chunk");
if (finish !== "stop" && finish !== "length") fail("finish_reason " + finish);

let refused = null;
try {
  await new OpenAI({ baseURL, apiKey: process.env.DIEM_POOR_KEY, maxRetries: 2, timeout: 60_000 }).chat.completions.create({
    model,
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 6,
  });
} catch (e) {
  if (!(e instanceof OpenAI.APIError)) throw e;
  refused = { status: e.status, code: e.code, type: e.type, message: e.message };
}
if (!refused || refused.status !== 402) fail("expected a 402 once credit is gone, got " + JSON.stringify(refused));

console.log(JSON.stringify({
  models: ids,
  costs_micro_usd: [completion.diem.cost_micro_usd, streamCost],
  completion_text: completion.choices[0].message.content,
  streamed_text: text,
  refused,
}));
