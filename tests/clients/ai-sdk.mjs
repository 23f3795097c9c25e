// The Vercel AI SDK against Bastion: one tool round trip with a real tool, with generateText and
// then with streamText.
//   node ai-sdk.mjs PROVIDER MODEL      (BASTION_URL and BASTION_KEY in the environment)
// PROVIDER is 'openai' (the default provider: the Responses API), 'openai-chat' (openai.chat),
// 'openai-compatible' (createOpenAICompatible, chat completions) or 'anthropic'. Prints one JSON
// line per run ("whole", then "stream"): the final text, the cities the tool was called with and
// each step's finish reason.
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';

const [provider, modelId] = process.argv.slice(2);
const baseURL = `${process.env.BASTION_URL}/v1`;
const apiKey = process.env.BASTION_KEY;
const models = {
  openai: () => createOpenAI({ baseURL, apiKey })(modelId),
  'openai-chat': () => createOpenAI({ baseURL, apiKey }).chat(modelId),
  'openai-compatible': () => createOpenAICompatible({ name: 'bastion', baseURL, apiKey }).chatModel(modelId),
  anthropic: () => createAnthropic({ baseURL, apiKey })(modelId),
};
if (!models[provider] || !modelId) {
  console.error(`usage: node ai-sdk.mjs ${Object.keys(models).join('|')} MODEL`);
  process.exit(2);
}

async function run(mode) {
  const cities = [];
  const weather = tool({
    description: 'The current weather in a city',
    inputSchema: jsonSchema({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    }),
    execute: async ({ city }) => {
      cities.push(city);
      return `4 C and clear in ${city}`;
    },
  });
  const options = {
    model: models[provider](),
    prompt: 'use_tool: what is the weather in Oslo?',
    tools: { weather },
    stopWhen: stepCountIs(4),
    maxOutputTokens: 16,
    maxRetries: 0,
  };
  const result = mode === 'stream' ? streamText(options) : await generateText(options);
  const steps = await result.steps;
  return { mode, text: await result.text, cities, finishReasons: steps.map((step) => step.finishReason) };
}

for (const mode of ['whole', 'stream']) console.log(JSON.stringify(await run(mode)));
