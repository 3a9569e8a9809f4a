// The official openai npm SDK asks a jar once whole and once streamed with usage;
// prints what it read as one JSON line. Usage: node openai_sdk_client.mjs BASE_URL
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "-", maxRetries: 0 });
const messages = [{ role: "user", content: "2 + 3?" }];
const whole = await client.chat.completions.create({ model: "adder", messages });
const stream = await client.chat.completions.create({
  model: "adder",
  messages,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let finish = null;
let usageChunk = null;
for await (const chunk of stream) {
  for (const choice of chunk.choices) {
    text += choice.delta?.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
  if (chunk.usage) usageChunk = chunk;
}
console.log(
  JSON.stringify({
    whole: {
      content: whole.choices[0].message.content,
      finish: whole.choices[0].finish_reason,
      usage: whole.usage,
    },
    streamed: { text, finish, usage: usageChunk?.usage, choices: usageChunk?.choices },
  }),
);
