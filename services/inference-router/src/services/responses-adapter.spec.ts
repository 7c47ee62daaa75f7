import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { ResponseStreamEvent as SdkResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';

import { InferenceError } from '../errors/inference.error.js';
import {
  ChatChunksToResponseEvents,
  ResponseEventsToChatChunks,
  chatCompletionToResponse,
  chatRequestToResponses,
  responseToChatCompletion,
  responsesRequestToChat,
  usageFromChat,
  usageFromResponses,
  type Json,
  type ResponseIds,
  type ResponseStreamEvent,
} from './responses-adapter.js';

const ids: ResponseIds = { responseId: 'resp_abc123', createdAt: 1_750_000_000 };

const weatherParameters = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
  additionalProperties: false,
};

/** The Responses-shape function tool a client sends. */
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: weatherParameters,
  strict: true,
};

/** Asserts `run` throws an `invalid_request` InferenceError whose message names `fragment`. */
function expectInvalid(run: () => unknown, fragment: string): void {
  let caught: unknown;
  try {
    run();
  } catch (error: unknown) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InferenceError);
  expect((caught as InferenceError).code).toBe('invalid_request');
  expect((caught as InferenceError).message).toContain(fragment);
}

function chatChunk(delta: Json, finishReason: string | null = null): Json {
  return {
    id: 'chatcmpl-upstream',
    object: 'chat.completion.chunk',
    created: 1_749_999_999,
    model: 'gpt-4o-mini-2024-07-18',
    system_fingerprint: 'fp_1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
}

function chatUsageChunk(usage: Json): Json {
  return {
    id: 'chatcmpl-upstream',
    object: 'chat.completion.chunk',
    created: 1_749_999_999,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [],
    usage,
  };
}

function runChunks(translator: ChatChunksToResponseEvents, chunks: readonly Json[]): ResponseStreamEvent[] {
  return [
    ...translator.start(),
    ...chunks.flatMap((chunk) => translator.push(chunk)),
    ...translator.finish(),
  ];
}

/** What the router answers for `request` while nothing is generated yet, written out as the API shows it. */
function baseResponse(request: { model: string; instructions?: string }): Json {
  return {
    id: 'resp_abc123',
    object: 'response',
    created_at: 1_750_000_000,
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: null,
    model: request.model,
    output: [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    temperature: null,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: null,
    truncation: 'disabled',
    metadata: {},
  };
}

describe('responsesRequestToChat', () => {
  it('maps instructions, a string input and every carried option, dropping metadata and store', () => {
    const request = {
      model: 'default',
      instructions: 'You are terse.',
      input: 'What is the weather in Paris?',
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 256,
      user: 'user-42',
      safety_identifier: 'a1b2c3',
      prompt_cache_key: 'weather-bot',
      metadata: { ticket: 'T-1' },
      store: true,
      reasoning: { effort: 'low', summary: 'auto' },
      text: {
        format: { type: 'json_schema', name: 'answer', schema: weatherParameters, strict: true },
        verbosity: 'low',
      },
      tools: [weatherTool],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      stream: true,
    };

    expect(responsesRequestToChat(request, 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is the weather in Paris?' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_completion_tokens: 256,
      user: 'user-42',
      safety_identifier: 'a1b2c3',
      prompt_cache_key: 'weather-bot',
      reasoning_effort: 'low',
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: weatherParameters, strict: true },
      },
      verbosity: 'low',
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: weatherParameters,
            strict: true,
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('maps an item list: roles, parts, function calls merged into their assistant turn, and their outputs', () => {
    const input = [
      { role: 'developer', content: 'Answer in French.' },
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: 'What is in this image?' },
          { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'low' },
        ],
      },
      {
        type: 'message',
        id: 'msg_prev',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Un chat.', annotations: [] }],
      },
      {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: 'Weather in Paris and Lyon?' }],
      },
      { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAAB-opaque' },
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_paris',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        status: 'completed',
      },
      {
        type: 'function_call',
        id: 'fc_2',
        call_id: 'call_lyon',
        name: 'get_weather',
        arguments: '{"city":"Lyon"}',
        status: 'completed',
      },
      { type: 'function_call_output', call_id: 'call_paris', output: '18°C' },
      { type: 'function_call_output', call_id: 'call_lyon', output: [{ type: 'input_text', text: '21°C' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking Nice too.' }] },
      { type: 'function_call', call_id: 'call_nice', name: 'get_weather', arguments: '{"city":"Nice"}' },
      { type: 'function_call_output', call_id: 'call_nice', output: '24°C' },
      {
        type: 'message',
        role: 'system',
        content: [
          { type: 'input_text', text: 'Be brief.' },
          { type: 'input_text', text: 'Use Celsius.' },
        ],
      },
    ];

    expect(responsesRequestToChat({ model: 'default', input }, 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer in French.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
          ],
        },
        { role: 'assistant', content: 'Un chat.' },
        { role: 'user', content: 'Weather in Paris and Lyon?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_paris',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_lyon',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Lyon"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_paris', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_lyon', content: '21°C' },
        {
          role: 'assistant',
          content: 'Checking Nice too.',
          tool_calls: [
            {
              id: 'call_nice',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Nice"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_nice', content: '24°C' },
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Be brief.' },
            { type: 'text', text: 'Use Celsius.' },
          ],
        },
      ],
    });
  });

  it('maps an assistant refusal to the refusal field, image details and inline files', () => {
    const input = [
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'original' },
          { type: 'input_image', image_url: 'https://example.com/b.png' },
          { type: 'input_file', filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' },
        ],
      },
      {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'refusal', refusal: 'I cannot help with that.' }],
      },
    ];

    expect(responsesRequestToChat({ model: 'default', input }, 'gpt-4o').messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/b.png' } },
          {
            type: 'file',
            file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'report.pdf' },
          },
        ],
      },
      { role: 'assistant', content: null, refusal: 'I cannot help with that.' },
    ]);
  });

  it('starts a new assistant message for a function call that follows a tool output', () => {
    const call = (id: string) => ({ type: 'function_call', call_id: id, name: 'roll', arguments: '{}' });
    const input = [
      { role: 'user', content: 'Roll twice, one after the other.' },
      call('call_1'),
      { type: 'function_call_output', call_id: 'call_1', output: '4' },
      call('call_2'),
      { type: 'function_call_output', call_id: 'call_2', output: '6' },
    ];
    const toolCall = (id: string) => ({ id, type: 'function', function: { name: 'roll', arguments: '{}' } });
    expect(responsesRequestToChat({ model: 'default', input }, 'm').messages).toEqual([
      { role: 'user', content: 'Roll twice, one after the other.' },
      { role: 'assistant', content: null, tool_calls: [toolCall('call_1')] },
      { role: 'tool', tool_call_id: 'call_1', content: '4' },
      { role: 'assistant', content: null, tool_calls: [toolCall('call_2')] },
      { role: 'tool', tool_call_id: 'call_2', content: '6' },
    ]);
  });

  it.each([
    ['auto', 'auto'],
    ['none', 'none'],
    ['required', 'required'],
    [
      { type: 'function', name: 'get_weather' },
      { type: 'function', function: { name: 'get_weather' } },
    ],
  ])('maps tool_choice %j', (choice, expected) => {
    const chat = responsesRequestToChat(
      { model: 'default', input: 'Hi', tools: [weatherTool], tool_choice: choice },
      'gpt-4o-mini',
    );
    expect(chat.tool_choice).toEqual(expected);
  });

  it('maps text.format json_object, and leaves plain text as the default', () => {
    const base = { model: 'default', input: 'List three colours as JSON' };
    expect(
      responsesRequestToChat({ ...base, text: { format: { type: 'json_object' } } }, 'm').response_format,
    ).toEqual({ type: 'json_object' });
    expect(responsesRequestToChat({ ...base, text: { format: { type: 'text' } } }, 'm')).not.toHaveProperty(
      'response_format',
    );
  });

  it('drops tool_choice and parallel_tool_calls without tools, and stream options when not streaming', () => {
    const request = {
      model: 'default',
      input: 'Hi',
      tools: [],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      stream: false,
      background: false,
      previous_response_id: null,
      truncation: 'auto',
    };
    expect(responsesRequestToChat(request, 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });

  it.each([
    ['previous_response_id', { previous_response_id: 'resp_prev' }, 'previous_response_id'],
    ['conversation', { conversation: 'conv_1' }, 'conversation'],
    ['background', { background: true }, 'background'],
    ['a prompt template', { prompt: { id: 'pmpt_1', version: '2' } }, 'prompt templates'],
    ['web_search', { tools: [{ type: 'web_search' }] }, 'web_search'],
    ['file_search', { tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }, 'file_search'],
    [
      'computer_use_preview',
      {
        tools: [
          { type: 'computer_use_preview', display_width: 1024, display_height: 768, environment: 'linux' },
        ],
      },
      'computer_use_preview',
    ],
    ['mcp', { tools: [{ type: 'mcp', server_label: 'docs', server_url: 'https://mcp.example.com' }] }, 'mcp'],
    ['code_interpreter', { tools: [weatherTool, { type: 'code_interpreter' }] }, 'code_interpreter'],
    ['a hosted tool_choice', { tools: [weatherTool], tool_choice: { type: 'file_search' } }, 'file_search'],
    [
      'an image by file_id',
      { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }] },
      'file_id',
    ],
    [
      'a file by file_id',
      { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] },
      'file_data',
    ],
    [
      'an image in a system message',
      { input: [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://x/a.png' }] }] },
      'image',
    ],
    ['an item_reference', { input: [{ type: 'item_reference', id: 'msg_1' }] }, 'item_reference'],
    [
      'a hosted tool call item',
      { input: [{ type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search' } }] },
      'web_search_call',
    ],
    ['an unknown role', { input: [{ role: 'tool', content: 'x' }] }, 'role tool'],
    ['a grammar text format', { text: { format: { type: 'grammar', grammar: 'x' } } }, 'grammar'],
    ['no input', { input: undefined }, 'input is required'],
  ])('refuses %s with invalid_request', (_name, fields, fragment) => {
    expectInvalid(
      () => responsesRequestToChat({ model: 'default', input: 'Hi', ...fields }, 'gpt-4o-mini'),
      fragment,
    );
  });
});

describe('chatCompletionToResponse', () => {
  const request = {
    model: 'default',
    instructions: 'You are terse.',
    input: 'Capital of France?',
    temperature: 0.2,
    metadata: { ticket: 'T-1' },
  };

  it('answers a text completion as a completed response with usage and cached tokens', () => {
    const completion = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1_749_999_999,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Paris.', refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 3,
        total_tokens: 1203,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: 'default',
    };

    expect(chatCompletionToResponse(completion, request, ids)).toEqual({
      ...baseResponse(request),
      status: 'completed',
      temperature: 0.2,
      metadata: { ticket: 'T-1' },
      output: [
        {
          id: 'msg_abc123_0',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Paris.', annotations: [] }],
        },
      ],
      usage: {
        input_tokens: 1200,
        input_tokens_details: { cached_tokens: 1024, cache_write_tokens: 0 },
        output_tokens: 3,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 1203,
      },
    });
  });

  it('answers text and tool calls as a message and function_call items, echoing the tools asked', () => {
    const toolRequest = {
      model: 'default',
      input: 'Weather in Paris and Lyon?',
      tools: [weatherTool],
      tool_choice: 'required',
      parallel_tool_calls: true,
      user: 'user-42',
    };
    const completion = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1_749_999_999,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking both.',
            refusal: null,
            tool_calls: [
              {
                id: 'call_paris',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_lyon',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Lyon"}' },
              },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 80, completion_tokens: 40, total_tokens: 120 },
    };

    expect(chatCompletionToResponse(completion, toolRequest, ids)).toEqual({
      ...baseResponse(toolRequest),
      status: 'completed',
      tools: [weatherTool],
      tool_choice: 'required',
      user: 'user-42',
      output: [
        {
          id: 'msg_abc123_0',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Checking both.', annotations: [] }],
        },
        {
          id: 'fc_abc123_1',
          type: 'function_call',
          status: 'completed',
          arguments: '{"city":"Paris"}',
          call_id: 'call_paris',
          name: 'get_weather',
        },
        {
          id: 'fc_abc123_2',
          type: 'function_call',
          status: 'completed',
          arguments: '{"city":"Lyon"}',
          call_id: 'call_lyon',
          name: 'get_weather',
        },
      ],
      usage: {
        input_tokens: 80,
        input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
        output_tokens: 40,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 120,
      },
    });
  });

  it.each([
    ['length', 'max_output_tokens'],
    ['content_filter', 'content_filter'],
  ])('answers finish_reason %s as incomplete (%s)', (finishReason, reason) => {
    const completion = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Once upon a' },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
    };
    const response = chatCompletionToResponse(completion, { ...request, max_output_tokens: 3 }, ids);
    expect(response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason },
      max_output_tokens: 3,
      output: [
        {
          id: 'msg_abc123_0',
          type: 'message',
          status: 'incomplete',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Once upon a', annotations: [] }],
        },
      ],
    });
    // No usage reported, none invented.
    expect(response).not.toHaveProperty('usage');
  });

  it('answers an empty completion as one empty message, not as no output', () => {
    const completion = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [
        { index: 0, message: { role: 'assistant', content: '' }, logprobs: null, finish_reason: 'stop' },
      ],
    };
    expect(chatCompletionToResponse(completion, request, ids).output).toEqual([
      {
        id: 'msg_abc123_0',
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: '', annotations: [] }],
      },
    ]);
  });

  it('answers a refusal as a refusal part', () => {
    const completion = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
    };
    expect(chatCompletionToResponse(completion, request, ids).output).toEqual([
      {
        id: 'msg_abc123_0',
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'refusal', refusal: 'I cannot help with that.' }],
      },
    ]);
  });
});

describe('ChatChunksToResponseEvents', () => {
  const textRequest = { model: 'default', input: 'Say hello', stream: true };

  it('translates a text-only stream into the exact events of the Responses API', () => {
    const translator = new ChatChunksToResponseEvents(textRequest, ids);
    const events = runChunks(translator, [
      chatChunk({ role: 'assistant', content: '', refusal: null }),
      chatChunk({ content: 'Hel' }),
      chatChunk({ content: 'lo' }),
      chatChunk({}, 'stop'),
      chatUsageChunk({
        prompt_tokens: 10,
        completion_tokens: 2,
        total_tokens: 12,
        prompt_tokens_details: { cached_tokens: 0 },
      }),
    ]);

    const inProgress = baseResponse(textRequest);
    const where = { item_id: 'msg_abc123_0', output_index: 0, content_index: 0 };
    const message = { id: 'msg_abc123_0', type: 'message', role: 'assistant' };
    const finalText = { type: 'output_text', text: 'Hello', annotations: [] };
    expect(events.map((event) => event.data)).toEqual([
      { type: 'response.created', sequence_number: 0, response: inProgress },
      { type: 'response.in_progress', sequence_number: 1, response: inProgress },
      {
        type: 'response.output_item.added',
        sequence_number: 2,
        output_index: 0,
        item: { ...message, status: 'in_progress', content: [] },
      },
      {
        type: 'response.content_part.added',
        sequence_number: 3,
        ...where,
        part: { type: 'output_text', text: '', annotations: [] },
      },
      { type: 'response.output_text.delta', sequence_number: 4, ...where, delta: 'Hel', logprobs: [] },
      { type: 'response.output_text.delta', sequence_number: 5, ...where, delta: 'lo', logprobs: [] },
      { type: 'response.output_text.done', sequence_number: 6, ...where, text: 'Hello', logprobs: [] },
      { type: 'response.content_part.done', sequence_number: 7, ...where, part: finalText },
      {
        type: 'response.output_item.done',
        sequence_number: 8,
        output_index: 0,
        item: { ...message, status: 'completed', content: [finalText] },
      },
      {
        type: 'response.completed',
        sequence_number: 9,
        response: {
          ...inProgress,
          status: 'completed',
          output: [{ ...message, status: 'completed', content: [finalText] }],
          usage: {
            input_tokens: 10,
            input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
            output_tokens: 2,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: 12,
          },
        },
      },
    ]);
    for (const event of events) expect(event.event).toBe(event.data.type);
  });

  const toolRequest = {
    model: 'default',
    input: 'Weather in Paris and Lyon?',
    tools: [weatherTool],
    stream: true,
  };
  const toolChunks = [
    chatChunk({ role: 'assistant', content: null }),
    chatChunk({ content: 'Checking ' }),
    chatChunk({ content: 'both.' }),
    chatChunk({
      tool_calls: [
        { index: 0, id: 'call_paris', type: 'function', function: { name: 'get_weather', arguments: '' } },
      ],
    }),
    chatChunk({
      tool_calls: [
        { index: 1, id: 'call_lyon', type: 'function', function: { name: 'get_weather', arguments: '' } },
      ],
    }),
    chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
    chatChunk({ tool_calls: [{ index: 1, function: { arguments: '{"city":"Lyon"}' } }] }),
    chatChunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    chatChunk({}, 'tool_calls'),
    chatUsageChunk({
      prompt_tokens: 2048,
      completion_tokens: 52,
      total_tokens: 2100,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    }),
  ];

  it('translates two interleaved tool calls plus text, each call its own function_call item', () => {
    const translator = new ChatChunksToResponseEvents(toolRequest, ids);
    const events = runChunks(translator, toolChunks);

    expect(events.map((event) => [event.event, event.data.output_index ?? null])).toEqual([
      ['response.created', null],
      ['response.in_progress', null],
      ['response.output_item.added', 0],
      ['response.content_part.added', 0],
      ['response.output_text.delta', 0],
      ['response.output_text.delta', 0],
      ['response.output_item.added', 1],
      ['response.output_item.added', 2],
      ['response.function_call_arguments.delta', 1],
      ['response.function_call_arguments.delta', 2],
      ['response.function_call_arguments.delta', 1],
      ['response.output_text.done', 0],
      ['response.content_part.done', 0],
      ['response.output_item.done', 0],
      ['response.function_call_arguments.done', 1],
      ['response.output_item.done', 1],
      ['response.function_call_arguments.done', 2],
      ['response.output_item.done', 2],
      ['response.completed', null],
    ]);
    expect(events[6]?.data).toEqual({
      type: 'response.output_item.added',
      sequence_number: 6,
      output_index: 1,
      item: {
        id: 'fc_abc123_1',
        type: 'function_call',
        status: 'in_progress',
        arguments: '',
        call_id: 'call_paris',
        name: 'get_weather',
      },
    });
    expect(events[8]?.data).toEqual({
      type: 'response.function_call_arguments.delta',
      sequence_number: 8,
      item_id: 'fc_abc123_1',
      output_index: 1,
      delta: '{"city":',
    });
    expect(events[14]?.data).toEqual({
      type: 'response.function_call_arguments.done',
      sequence_number: 14,
      item_id: 'fc_abc123_1',
      output_index: 1,
      arguments: '{"city":"Paris"}',
      name: 'get_weather',
    });
    expect(events[16]?.data).toMatchObject({ item_id: 'fc_abc123_2', arguments: '{"city":"Lyon"}' });

    const completed = events.at(-1)?.data.response;
    expect(completed).toEqual({
      ...baseResponse(toolRequest),
      status: 'completed',
      tools: [weatherTool],
      output: [
        {
          id: 'msg_abc123_0',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Checking both.', annotations: [] }],
        },
        {
          id: 'fc_abc123_1',
          type: 'function_call',
          status: 'completed',
          arguments: '{"city":"Paris"}',
          call_id: 'call_paris',
          name: 'get_weather',
        },
        {
          id: 'fc_abc123_2',
          type: 'function_call',
          status: 'completed',
          arguments: '{"city":"Lyon"}',
          call_id: 'call_lyon',
          name: 'get_weather',
        },
      ],
      usage: {
        input_tokens: 2048,
        input_tokens_details: { cached_tokens: 1920, cache_write_tokens: 0 },
        output_tokens: 52,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 2100,
      },
    });
    expect(translator.response).toEqual(completed);
  });

  it('numbers events contiguously from 0 across start, push and finish', () => {
    const translator = new ChatChunksToResponseEvents(toolRequest, ids);
    const first = translator.start();
    expect(translator.start()).toEqual([]);
    const middle = toolChunks.flatMap((chunk) => translator.push(chunk));
    const last = translator.finish();
    expect(first.length).toBe(2);
    expect(middle.length).toBeGreaterThan(0);
    expect(last.length).toBeGreaterThan(0);
    const numbers = [...first, ...middle, ...last].map((event) => event.data.sequence_number);
    expect(numbers).toEqual(numbers.map((_number, i) => i));
  });

  it('sends the start events with the first chunk when start() was not called, and nothing after finish', () => {
    const translator = new ChatChunksToResponseEvents(textRequest, ids);
    expect(
      translator.push(chatChunk({ role: 'assistant', content: 'Hi' })).map((event) => event.event),
    ).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
    ]);
    expect(translator.finish().at(-1)?.event).toBe('response.completed');
    expect(translator.push(chatChunk({ content: 'late' }))).toEqual([]);
    expect(translator.finish()).toEqual([]);
  });

  it('ends a length-truncated stream with response.incomplete and incomplete items', () => {
    const translator = new ChatChunksToResponseEvents({ ...textRequest, max_output_tokens: 2 }, ids);
    const events = runChunks(translator, [
      chatChunk({ role: 'assistant', content: 'Once' }),
      chatChunk({ content: ' upon' }),
      chatChunk({}, 'length'),
      chatUsageChunk({ prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 }),
    ]);
    expect(events.map((event) => event.event).slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(events.some((event) => event.event === 'response.completed')).toBe(false);
    const item = {
      id: 'msg_abc123_0',
      type: 'message',
      status: 'incomplete',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Once upon', annotations: [] }],
    };
    expect(events.at(-2)?.data.item).toEqual(item);
    expect(events.at(-1)?.data).toEqual({
      type: 'response.incomplete',
      sequence_number: events.length - 1,
      response: {
        ...baseResponse(textRequest),
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
        max_output_tokens: 2,
        output: [item],
        usage: {
          input_tokens: 9,
          input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
          output_tokens: 2,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 11,
        },
      },
    });
  });

  it('ends a filtered stream with response.incomplete for content_filter', () => {
    const translator = new ChatChunksToResponseEvents(textRequest, ids);
    const events = runChunks(translator, [chatChunk({ content: 'Well' }), chatChunk({}, 'content_filter')]);
    expect(events.at(-1)?.event).toBe('response.incomplete');
    expect(events.at(-1)?.data.response).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'content_filter' },
    });
  });

  it('streams a refusal as a refusal content part', () => {
    const translator = new ChatChunksToResponseEvents(textRequest, ids);
    const events = runChunks(translator, [
      chatChunk({ role: 'assistant', refusal: 'I cannot ' }),
      chatChunk({ refusal: 'help.' }),
      chatChunk({}, 'stop'),
    ]);
    const where = { item_id: 'msg_abc123_0', output_index: 0, content_index: 0 };
    expect(events.slice(3, -2).map((event) => event.data)).toEqual([
      {
        type: 'response.content_part.added',
        sequence_number: 3,
        ...where,
        part: { type: 'refusal', refusal: '' },
      },
      { type: 'response.refusal.delta', sequence_number: 4, ...where, delta: 'I cannot ' },
      { type: 'response.refusal.delta', sequence_number: 5, ...where, delta: 'help.' },
      { type: 'response.refusal.done', sequence_number: 6, ...where, refusal: 'I cannot help.' },
      {
        type: 'response.content_part.done',
        sequence_number: 7,
        ...where,
        part: { type: 'refusal', refusal: 'I cannot help.' },
      },
    ]);
  });

  it('holds a tool call back until its name arrives, then sends the arguments so far', () => {
    const translator = new ChatChunksToResponseEvents(toolRequest, ids);
    translator.start();
    expect(
      translator.push(
        chatChunk({ tool_calls: [{ index: 0, id: 'call_1', function: { arguments: '{"city"' } }] }),
      ),
    ).toEqual([]);
    expect(
      translator
        .push(
          chatChunk({ tool_calls: [{ index: 0, function: { name: 'get_weather', arguments: ':"Rome"}' } }] }),
        )
        .map((event) => event.data),
    ).toEqual([
      {
        type: 'response.output_item.added',
        sequence_number: 2,
        output_index: 0,
        item: {
          id: 'fc_abc123_0',
          type: 'function_call',
          status: 'in_progress',
          arguments: '',
          call_id: 'call_1',
          name: 'get_weather',
        },
      },
      {
        type: 'response.function_call_arguments.delta',
        sequence_number: 3,
        item_id: 'fc_abc123_0',
        output_index: 0,
        delta: '{"city":"Rome"}',
      },
    ]);
  });

  it('still closes a tool call whose name never came, so its arguments are not lost', () => {
    const translator = new ChatChunksToResponseEvents(toolRequest, ids);
    translator.start();
    translator.push(chatChunk({ tool_calls: [{ index: 0, id: 'call_1', function: { arguments: '{}' } }] }));
    expect(translator.finish().map((event) => event.event)).toEqual([
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(translator.response.output).toEqual([
      {
        id: 'fc_abc123_0',
        type: 'function_call',
        status: 'completed',
        arguments: '{}',
        call_id: 'call_1',
        name: '',
      },
    ]);
  });

  it('gives the same response as the non-streamed answer of the same completion', () => {
    const translator = new ChatChunksToResponseEvents(toolRequest, ids);
    runChunks(translator, toolChunks);
    const completion = {
      id: 'chatcmpl-upstream',
      object: 'chat.completion',
      created: 1_749_999_999,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking both.',
            tool_calls: [
              {
                id: 'call_paris',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_lyon',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Lyon"}' },
              },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: (toolChunks.at(-1) as Json).usage,
    };
    expect(translator.response).toEqual(chatCompletionToResponse(completion, toolRequest, ids));
  });

  it('builds, in the SDK accumulator, the same output as its own snapshot mid-stream and at the end', () => {
    const translator = new ChatChunksToResponseEvents(toolRequest, ids);
    const streamed = [...translator.start(), ...toolChunks.flatMap((chunk) => translator.push(chunk))];
    const midStream = translator.response;
    const closing = translator.finish();

    // The SDK's own accumulator throws on an event that names a missing item or content part.
    const accumulate = (events: readonly ResponseStreamEvent[]) =>
      events.reduce<ReturnType<typeof accumulateResponse> | undefined>(
        (snapshot, event) => accumulateResponse(event.data as unknown as SdkResponseStreamEvent, snapshot),
        undefined,
      );
    const beforeFinish = accumulate(streamed);
    expect(beforeFinish?.output).toEqual(midStream.output);
    expect(beforeFinish?.output_text).toBe('Checking both.');
    const beforeCompleted = accumulate([...streamed, ...closing.slice(0, -1)]);
    expect(beforeCompleted?.output).toEqual(translator.response.output);
  });
});

describe('chatRequestToResponses', () => {
  it('maps a conversation: leading system to instructions, parts, tool calls and outputs, options', () => {
    const request = {
      model: 'default',
      messages: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use Celsius.' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather here?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me check.',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'system', content: 'Keep it short.' },
        { role: 'user', name: 'alice', content: 'Thanks' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherParameters },
        },
      ],
      tool_choice: 'auto',
      max_tokens: 100,
      temperature: 0.5,
      top_p: 1,
      parallel_tool_calls: true,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'weather', schema: weatherParameters, strict: true },
      },
      reasoning_effort: 'medium',
      metadata: { ticket: 'T-2' },
      user: 'user-7',
      stream: true,
      stream_options: { include_usage: true },
      store: true,
      seed: 7,
      frequency_penalty: 0.5,
    };

    expect(chatRequestToResponses(request, 'gpt-4.1')).toEqual({
      model: 'gpt-4.1',
      store: false,
      instructions: 'You are a weather bot.\n\nUse Celsius.',
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'Weather here?' },
            { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' },
            { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'auto' },
          ],
        },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Let me check.', annotations: [] }],
        },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '18°C' },
        { type: 'message', role: 'developer', content: 'Keep it short.' },
        { type: 'message', role: 'user', content: 'Thanks' },
      ],
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: weatherParameters,
          strict: false,
        },
      ],
      tool_choice: 'auto',
      max_output_tokens: 100,
      temperature: 0.5,
      top_p: 1,
      parallel_tool_calls: true,
      text: { format: { type: 'json_schema', name: 'weather', schema: weatherParameters, strict: true } },
      reasoning: { effort: 'medium' },
      metadata: { ticket: 'T-2' },
      user: 'user-7',
      stream: true,
    });
  });

  it('maps the remaining shapes: named tool_choice, json_object, refusals, files and text tool outputs', () => {
    const request = {
      model: 'default',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
          ],
        },
        { role: 'assistant', content: null, refusal: 'I cannot help with that.' },
        { role: 'user', content: 'Then call it.' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'ping', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_9', content: [{ type: 'text', text: 'pong' }] },
      ],
      tools: [{ type: 'function', function: { name: 'ping', strict: true } }],
      tool_choice: { type: 'function', function: { name: 'ping' } },
      max_tokens: 50,
      max_completion_tokens: 80,
      response_format: { type: 'json_object' },
      verbosity: 'high',
      n: 1,
      stop: [],
    };

    expect(chatRequestToResponses(request, 'gpt-4.1')).toEqual({
      model: 'gpt-4.1',
      store: false,
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' },
          ],
        },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'refusal', refusal: 'I cannot help with that.' }],
        },
        { type: 'message', role: 'user', content: 'Then call it.' },
        { type: 'function_call', call_id: 'call_9', name: 'ping', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_9', output: [{ type: 'input_text', text: 'pong' }] },
      ],
      tools: [
        { type: 'function', name: 'ping', parameters: { type: 'object', properties: {} }, strict: true },
      ],
      tool_choice: { type: 'function', name: 'ping' },
      max_output_tokens: 80,
      text: { format: { type: 'json_object' }, verbosity: 'high' },
    });
  });

  it.each([
    ['n > 1', { n: 2 }, 'n other than 1'],
    ['a stop list', { stop: ['\n\n'] }, 'stop sequences'],
    ['a stop string', { stop: 'END' }, 'stop sequences'],
    ['audio output', { modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    ['legacy functions', { functions: [{ name: 'f' }] }, 'functions'],
    ['legacy function_call', { function_call: 'auto' }, 'function_call'],
    ['logprobs', { logprobs: true, top_logprobs: 3 }, 'logprobs'],
    ['web_search_options', { web_search_options: {} }, 'web_search_options'],
    ['a custom tool', { tools: [{ type: 'custom', custom: { name: 'grep' } }] }, 'custom'],
    [
      'allowed_tools',
      { tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } },
      'allowed_tools',
    ],
    ['a function message', { messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'role function'],
    [
      'an audio part',
      {
        messages: [
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGR', format: 'wav' } }] },
        ],
      },
      'input_audio',
    ],
    [
      'a custom tool call',
      {
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'custom', custom: { name: 'grep', input: 'x' } }],
          },
        ],
      },
      'custom',
    ],
    ['no messages', { messages: undefined }, 'messages must be a list'],
  ])('refuses %s with invalid_request', (_name, fields, fragment) => {
    expectInvalid(
      () =>
        chatRequestToResponses(
          { model: 'default', messages: [{ role: 'user', content: 'Hi' }], ...fields },
          'm',
        ),
      fragment,
    );
  });
});

describe('responseToChatCompletion', () => {
  const usage = {
    input_tokens: 2000,
    input_tokens_details: { cached_tokens: 1536 },
    output_tokens: 300,
    output_tokens_details: { reasoning_tokens: 256 },
    total_tokens: 2300,
  };

  function providerResponse(fields: Json): Json {
    return {
      id: 'resp_68a1b2',
      object: 'response',
      created_at: 1_750_000_100,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'gpt-4.1-2025-04-14',
      output: [],
      usage,
      ...fields,
    };
  }

  it('answers text as a chat completion with usage and cached tokens, skipping reasoning items', () => {
    const response = providerResponse({
      output: [
        { id: 'rs_1', type: 'reasoning', summary: [] },
        {
          id: 'msg_1',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Paris.', annotations: [], logprobs: [] }],
        },
      ],
    });
    expect(responseToChatCompletion(response, 'default')).toEqual({
      id: 'chatcmpl-68a1b2',
      object: 'chat.completion',
      created: 1_750_000_100,
      model: 'default',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Paris.', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 2000,
        completion_tokens: 300,
        total_tokens: 2300,
        prompt_tokens_details: { cached_tokens: 1536 },
        completion_tokens_details: { reasoning_tokens: 256 },
      },
    });
  });

  it('answers function calls as tool_calls with finish_reason tool_calls', () => {
    const response = providerResponse({
      output: [
        {
          id: 'fc_1',
          type: 'function_call',
          status: 'completed',
          call_id: 'call_a',
          name: 'get_weather',
          arguments: '{"city":"Paris"}',
        },
        {
          id: 'fc_2',
          type: 'function_call',
          status: 'completed',
          call_id: 'call_b',
          name: 'get_weather',
          arguments: '{"city":"Lyon"}',
        },
      ],
    });
    expect(responseToChatCompletion(response, 'default').choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            {
              id: 'call_a',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_b',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Lyon"}' },
            },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ]);
  });

  it.each([
    ['max_output_tokens', 'length'],
    ['content_filter', 'content_filter'],
  ])(
    'answers an incomplete response (%s) with finish_reason %s, even after a tool call',
    (reason, finishReason) => {
      const response = providerResponse({
        status: 'incomplete',
        incomplete_details: { reason },
        output: [
          {
            id: 'fc_1',
            type: 'function_call',
            status: 'incomplete',
            call_id: 'call_a',
            name: 'f',
            arguments: '{"a"',
          },
        ],
      });
      expect(responseToChatCompletion(response, 'default')).toMatchObject({
        choices: [{ finish_reason: finishReason }],
      });
    },
  );

  it('answers a refusal in the refusal field', () => {
    const response = providerResponse({
      output: [
        {
          id: 'msg_1',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'refusal', refusal: 'I cannot help with that.' }],
        },
      ],
    });
    expect(responseToChatCompletion(response, 'default')).toMatchObject({
      choices: [{ message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' } }],
    });
  });

  it('refuses a failed response as an upstream error carrying its message', () => {
    const response = providerResponse({
      status: 'failed',
      error: { code: 'server_error', message: 'The model crashed' },
    });
    expect(() => responseToChatCompletion(response, 'default')).toThrow(InferenceError);
    expect(() => responseToChatCompletion(response, 'default')).toThrow(/upstream|provider failed/i);
    expect(() => responseToChatCompletion(response, 'default')).toThrow(/The model crashed/);
  });
});

describe('ResponseEventsToChatChunks', () => {
  const inProgress = {
    id: 'resp_68a1b2',
    object: 'response',
    created_at: 1_750_000_100,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    model: 'gpt-4.1-2025-04-14',
    output: [],
    usage: null,
  };
  const usage = {
    input_tokens: 900,
    input_tokens_details: { cached_tokens: 768 },
    output_tokens: 12,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 912,
  };
  const chatUsage = {
    prompt_tokens: 900,
    completion_tokens: 12,
    total_tokens: 912,
    prompt_tokens_details: { cached_tokens: 768 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
  const message = { id: 'msg_1', type: 'message', role: 'assistant' };
  const textPart = { type: 'output_text', text: 'Hello', annotations: [], logprobs: [] };
  const where = { item_id: 'msg_1', output_index: 0, content_index: 0 };

  /** A real text stream of the Responses API, sequence numbers included. */
  const textEvents: Json[] = [
    { type: 'response.created', response: inProgress },
    { type: 'response.in_progress', response: inProgress },
    {
      type: 'response.output_item.added',
      output_index: 0,
      item: { ...message, status: 'in_progress', content: [] },
    },
    { type: 'response.content_part.added', ...where, part: { ...textPart, text: '' } },
    { type: 'response.output_text.delta', ...where, delta: 'Hel', logprobs: [] },
    { type: 'response.output_text.delta', ...where, delta: 'lo', logprobs: [] },
    { type: 'response.output_text.done', ...where, text: 'Hello', logprobs: [] },
    { type: 'response.content_part.done', ...where, part: textPart },
    {
      type: 'response.output_item.done',
      output_index: 0,
      item: { ...message, status: 'completed', content: [textPart] },
    },
    {
      type: 'response.completed',
      response: {
        ...inProgress,
        status: 'completed',
        output: [{ ...message, status: 'completed', content: [textPart] }],
        usage,
      },
    },
  ].map((event, i) => ({ ...event, sequence_number: i }));

  function pushAll(translator: ResponseEventsToChatChunks, events: readonly Json[]): Json[] {
    return events.flatMap((event) => translator.push(event.type as string, event));
  }

  const envelope = {
    id: 'chatcmpl-68a1b2',
    object: 'chat.completion.chunk',
    created: 1_750_000_100,
    model: 'default',
  };

  it('translates a text stream into chunks, with the usage chunk last when asked', () => {
    const translator = new ResponseEventsToChatChunks('default', true);
    expect(translator.done).toBe(false);
    expect(pushAll(translator, textEvents)).toEqual([
      {
        ...envelope,
        choices: [
          { index: 0, delta: { role: 'assistant', content: 'Hel' }, logprobs: null, finish_reason: null },
        ],
        usage: null,
      },
      {
        ...envelope,
        choices: [{ index: 0, delta: { content: 'lo' }, logprobs: null, finish_reason: null }],
        usage: null,
      },
      { ...envelope, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], usage: null },
      { ...envelope, choices: [], usage: chatUsage },
    ]);
    expect(translator.done).toBe(true);
    expect(translator.failure).toBeUndefined();
    expect(translator.push('response.output_text.delta', { ...where, delta: 'late' })).toEqual([]);
  });

  it('leaves usage out entirely when the client did not ask for it', () => {
    const chunks = pushAll(new ResponseEventsToChatChunks('default', false), textEvents);
    expect(chunks).toHaveLength(3);
    for (const chunk of chunks) expect(chunk).not.toHaveProperty('usage');
  });

  it.each([
    ['output_text.done', ['response.output_text.delta']],
    ['output_item.done', ['response.output_text.delta', 'response.output_text.done']],
  ])('relays text that arrives only in %s, once', (_name, dropped) => {
    const translator = new ResponseEventsToChatChunks('default', false);
    const events = textEvents.filter((event) => !dropped.includes(event.type as string));
    expect(pushAll(translator, events)).toEqual([
      {
        ...envelope,
        choices: [
          { index: 0, delta: { role: 'assistant', content: 'Hello' }, logprobs: null, finish_reason: null },
        ],
      },
      { ...envelope, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
    ]);
  });

  const callA = { id: 'fc_a', type: 'function_call', call_id: 'call_a', name: 'get_weather' };
  const callB = { id: 'fc_b', type: 'function_call', call_id: 'call_b', name: 'get_time' };
  /** Text, then two function calls, as the Responses API streams them. */
  const toolEvents: Json[] = [
    { type: 'response.created', response: inProgress },
    {
      type: 'response.output_item.added',
      output_index: 0,
      item: { ...message, status: 'in_progress', content: [] },
    },
    { type: 'response.content_part.added', ...where, part: { ...textPart, text: '' } },
    { type: 'response.output_text.delta', ...where, delta: 'Checking.', logprobs: [] },
    { type: 'response.output_text.done', ...where, text: 'Checking.', logprobs: [] },
    {
      type: 'response.output_item.done',
      output_index: 0,
      item: { ...message, status: 'completed', content: [{ ...textPart, text: 'Checking.' }] },
    },
    {
      type: 'response.output_item.added',
      output_index: 1,
      item: { ...callA, status: 'in_progress', arguments: '' },
    },
    { type: 'response.function_call_arguments.delta', item_id: 'fc_a', output_index: 1, delta: '{"city":' },
    { type: 'response.function_call_arguments.delta', item_id: 'fc_a', output_index: 1, delta: '"Paris"}' },
    {
      type: 'response.function_call_arguments.done',
      item_id: 'fc_a',
      output_index: 1,
      arguments: '{"city":"Paris"}',
    },
    {
      type: 'response.output_item.done',
      output_index: 1,
      item: { ...callA, status: 'completed', arguments: '{"city":"Paris"}' },
    },
    {
      type: 'response.output_item.added',
      output_index: 2,
      item: { ...callB, status: 'in_progress', arguments: '' },
    },
    {
      type: 'response.function_call_arguments.delta',
      item_id: 'fc_b',
      output_index: 2,
      delta: '{"tz":"CET"}',
    },
    {
      type: 'response.function_call_arguments.done',
      item_id: 'fc_b',
      output_index: 2,
      arguments: '{"tz":"CET"}',
    },
    {
      type: 'response.output_item.done',
      output_index: 2,
      item: { ...callB, status: 'completed', arguments: '{"tz":"CET"}' },
    },
    {
      type: 'response.completed',
      response: {
        ...inProgress,
        status: 'completed',
        output: [
          { ...message, status: 'completed', content: [{ ...textPart, text: 'Checking.' }] },
          { ...callA, status: 'completed', arguments: '{"city":"Paris"}' },
          { ...callB, status: 'completed', arguments: '{"tz":"CET"}' },
        ],
        usage,
      },
    },
  ].map((event, i) => ({ ...event, sequence_number: i }));

  it('translates function calls into indexed tool_call deltas and finishes with tool_calls', () => {
    const chunks = pushAll(new ResponseEventsToChatChunks('default', false), toolEvents);
    const choice = (delta: Json, finishReason: string | null = null) => ({
      ...envelope,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    });
    expect(chunks).toEqual([
      choice({ role: 'assistant', content: 'Checking.' }),
      choice({
        tool_calls: [
          { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      }),
      choice({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      choice({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      choice({
        tool_calls: [
          { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      }),
      choice({ tool_calls: [{ index: 1, function: { arguments: '{"tz":"CET"}' } }] }),
      choice({}, 'tool_calls'),
    ]);
  });

  it('produces chunks the SDK assembles into the same completion as the non-streamed translation', async () => {
    const chunks = pushAll(new ResponseEventsToChatChunks('default', true), toolEvents);
    const body = chunks.map((chunk) => JSON.stringify(chunk)).join('\n');
    const stream = ChatCompletionStream.fromReadableStream(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(body));
          controller.close();
        },
      }),
    );
    const assembled = await stream.finalChatCompletion();
    const expected = responseToChatCompletion(toolEvents.at(-1)?.response as Json, 'default');
    expect(assembled).toMatchObject({
      id: expected.id,
      created: expected.created,
      model: 'default',
      choices: expected.choices,
      usage: expected.usage,
    });
  });

  it.each([
    ['max_output_tokens', 'length'],
    ['content_filter', 'content_filter'],
  ])('finishes response.incomplete (%s) with %s', (reason, finishReason) => {
    const translator = new ResponseEventsToChatChunks('default', false);
    const chunks = pushAll(translator, [
      ...textEvents.slice(0, 6),
      {
        type: 'response.incomplete',
        sequence_number: 6,
        response: { ...inProgress, status: 'incomplete', incomplete_details: { reason } },
      },
    ]);
    expect(chunks.at(-1)).toEqual({
      ...envelope,
      choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }],
    });
    expect(translator.done).toBe(true);
  });

  it('records response.failed as a failure, sends no chunk and ignores what follows', () => {
    const translator = new ResponseEventsToChatChunks('default', true);
    const chunks = pushAll(translator, [
      ...textEvents.slice(0, 5),
      {
        type: 'response.failed',
        sequence_number: 5,
        response: {
          ...inProgress,
          status: 'failed',
          error: { code: 'server_error', message: 'The model crashed' },
        },
      },
      textEvents[9] as Json,
    ]);
    expect(chunks).toHaveLength(1);
    expect(translator.failure).toEqual({ code: 'server_error', message: 'The model crashed' });
    expect(translator.done).toBe(true);
  });

  it('records an error event as a failure without a chunk', () => {
    const translator = new ResponseEventsToChatChunks('default', false);
    const chunks = translator.push('error', {
      type: 'error',
      sequence_number: 3,
      code: 'rate_limit_exceeded',
      message: 'Slow down',
      param: null,
    });
    expect(chunks).toEqual([]);
    expect(translator.failure).toEqual({ code: 'rate_limit_exceeded', message: 'Slow down' });
  });
});

describe('round trips', () => {
  it('keeps a tool conversation intact from chat to responses and back', () => {
    const chatRequest = {
      model: 'default',
      messages: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'user', content: 'Weather in Paris and Lyon?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_paris',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_lyon',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Lyon"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_paris', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_lyon', content: '21°C' },
        { role: 'assistant', content: 'Paris 18°C, Lyon 21°C. Nice as well?' },
        { role: 'user', content: 'Yes' },
        {
          role: 'assistant',
          content: 'Checking Nice.',
          tool_calls: [
            {
              id: 'call_nice',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Nice"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_nice', content: '24°C' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: weatherParameters,
            strict: false,
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: true,
      max_completion_tokens: 500,
      temperature: 0.3,
    };

    const responsesRequest = chatRequestToResponses(chatRequest, 'gpt-4.1');
    expect(responsesRequestToChat(responsesRequest, 'gpt-4o-mini')).toEqual({
      ...chatRequest,
      model: 'gpt-4o-mini',
    });
  });

  it('keeps a completion intact from chat to a response and back', () => {
    const completion = {
      id: 'chatcmpl-abc123',
      object: 'chat.completion',
      created: 1_750_000_000,
      model: 'default',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Checking.',
            refusal: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 50,
        completion_tokens: 7,
        total_tokens: 57,
        prompt_tokens_details: { cached_tokens: 32 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    };
    const response = chatCompletionToResponse(completion, { model: 'default', input: 'Hi' }, ids);
    expect(responseToChatCompletion(response, 'default')).toEqual(completion);
  });
});

describe('usage', () => {
  it('reads prompt, completion and cached tokens from either API', () => {
    expect(
      usageFromChat({
        prompt_tokens: 1200,
        completion_tokens: 30,
        total_tokens: 1230,
        prompt_tokens_details: { cached_tokens: 1024 },
      }),
    ).toEqual({ promptTokens: 1200, completionTokens: 30, cachedTokens: 1024 });
    expect(
      usageFromResponses({
        input_tokens: 900,
        input_tokens_details: { cached_tokens: 768 },
        output_tokens: 12,
        output_tokens_details: { reasoning_tokens: 4 },
        total_tokens: 912,
      }),
    ).toEqual({ promptTokens: 900, completionTokens: 12, cachedTokens: 768 });
    expect(usageFromChat({ prompt_tokens: 5, completion_tokens: 1 })).toEqual({
      promptTokens: 5,
      completionTokens: 1,
      cachedTokens: 0,
    });
  });

  it.each([undefined, null, 'lots', {}, { prompt_tokens: -1 }, { prompt_tokens: 1.5 }])(
    'finds no usage in %j',
    (usage) => {
      expect(usageFromChat(usage)).toBeUndefined();
      expect(usageFromResponses(usage)).toBeUndefined();
    },
  );
});
