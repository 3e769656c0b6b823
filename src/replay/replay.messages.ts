/**
 * Reads decoded LangChain messages (JS `lc:1` objects, Python msgpack instances, or raw `{role, content}` input) into
 * one normalized shape: role, text, tool calls, tool result fields, reasoning, token usage and model.
 */
import { classNameOf, isDecodedObject, type DecodedObject, type DecodedValue } from './checkpoint.decoder';

/** Who wrote a message. */
export type MessageRole = 'human' | 'ai' | 'tool' | 'system' | 'other';

/** Token usage of one model call; a count is null when the provider did not report it. */
export interface TokenUsage {
  input: number | null;
  output: number | null;
  total: number | null;
  reasoning: number | null;
}

/** One tool call requested by an AI message. */
export interface ToolCallRequest {
  id: string | null;
  name: string;
  args: DecodedValue;
  /** Set for `invalid_tool_calls`: why the arguments could not be parsed. */
  error: string | null;
}

/** A message read out of a channel value or a write, independent of how it was serialized. */
export interface ReplayMessage {
  id: string | null;
  role: MessageRole;
  /** LangChain class name (`AIMessageChunk`, …) when the value was a serialized instance. */
  className: string | null;
  /** The content as stored: a string or a list of content blocks. */
  content: DecodedValue;
  /** The text parts of the content, joined. */
  text: string;
  toolCalls: ToolCallRequest[];
  toolCallId: string | null;
  toolName: string | null;
  status: 'success' | 'error' | null;
  reasoning: string | null;
  usage: TokenUsage | null;
  model: string | null;
}

/** Reads a decoded `messages` channel value (a list) into normalized messages, skipping entries that are not messages. */
export function readMessageList(value: DecodedValue): ReplayMessage[] {
  if (!Array.isArray(value)) return [];
  return value.map(readMessage).filter((message): message is ReplayMessage => message !== null);
}

/** Reads one decoded message; returns null when the value is not a message. */
export function readMessage(value: DecodedValue): ReplayMessage | null {
  if (typeof value === 'string') return plainMessage('human', value);
  if (!isDecodedObject(value)) return null;
  const className = classNameOf(value);
  const role = roleOf(className, value);
  if (role === null) return null;
  const content = value.content;
  const additional = objectField(value, 'additional_kwargs');
  const responseMetadata = objectField(value, 'response_metadata');
  const toolCalls = role === 'ai' ? readToolCalls(value, additional) : [];
  const status = value.status === 'error' ? 'error' : role === 'tool' ? 'success' : null;
  return {
    id: stringField(value, 'id'),
    role,
    className,
    content,
    text: textOf(content),
    toolCalls,
    toolCallId: stringField(value, 'tool_call_id'),
    toolName: stringField(value, 'name'),
    status,
    reasoning: role === 'ai' ? reasoningOf(content, additional) : null,
    usage: role === 'ai' ? usageOf(value, responseMetadata) : null,
    model: role === 'ai' ? modelOf(responseMetadata) : null,
  };
}

/** The text of message content: the string itself, or the `text` blocks (and bare strings) of a block list. */
export function textOf(content: DecodedValue): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block) => {
      if (typeof block === 'string') return block;
      if (isDecodedObject(block) && (block.type === 'text' || block.type === 'output_text')) {
        return typeof block.text === 'string' ? block.text : '';
      }
      return '';
    })
    .join('');
}

/**
 * Reasoning of an AI message in any of the encodings providers use: `thinking` blocks (Anthropic), `reasoning` blocks
 * (LangChain v1 standard blocks), `additional_kwargs.reasoning_content` (DeepSeek, Qwen, …) and OpenAI's
 * `additional_kwargs.reasoning.summary[]` (Responses API). Parts are joined by a blank line; null when there is none.
 */
export function reasoningOf(content: DecodedValue, additionalKwargs: DecodedObject | null): string | null {
  const parts: string[] = [];
  if (Array.isArray(content)) {
    for (const block of content) {
      if (!isDecodedObject(block)) continue;
      if (block.type === 'thinking' && typeof block.thinking === 'string') parts.push(block.thinking);
      if (block.type === 'reasoning') {
        if (typeof block.reasoning === 'string') parts.push(block.reasoning);
        parts.push(...summaryTexts(block.summary));
      }
    }
  }
  if (additionalKwargs !== null) {
    const reasoningContent = additionalKwargs.reasoning_content;
    if (typeof reasoningContent === 'string') parts.push(reasoningContent);
    const reasoning = additionalKwargs.reasoning;
    if (isDecodedObject(reasoning)) parts.push(...summaryTexts(reasoning.summary));
    else if (typeof reasoning === 'string') parts.push(reasoning);
  }
  const nonEmpty = parts.filter((part) => part.trim() !== '');
  return nonEmpty.length === 0 ? null : nonEmpty.join('\n\n');
}

function summaryTexts(summary: DecodedValue): string[] {
  if (!Array.isArray(summary)) return [];
  return summary.flatMap((item) => {
    if (typeof item === 'string') return [item];
    return isDecodedObject(item) && typeof item.text === 'string' ? [item.text] : [];
  });
}

/** Token usage from `usage_metadata`, else from the provider-specific `response_metadata.tokenUsage` / `usage`. */
function usageOf(message: DecodedObject, responseMetadata: DecodedObject | null): TokenUsage | null {
  const usage = objectField(message, 'usage_metadata');
  if (usage !== null) {
    const outputDetails = objectField(usage, 'output_token_details');
    return completeUsage({
      input: numberField(usage, 'input_tokens'),
      output: numberField(usage, 'output_tokens'),
      total: numberField(usage, 'total_tokens'),
      reasoning: outputDetails === null ? null : numberField(outputDetails, 'reasoning'),
    });
  }
  const tokenUsage = responseMetadata === null ? null : objectField(responseMetadata, 'tokenUsage');
  if (tokenUsage !== null) {
    return completeUsage({
      input: numberField(tokenUsage, 'promptTokens'),
      output: numberField(tokenUsage, 'completionTokens'),
      total: numberField(tokenUsage, 'totalTokens'),
      reasoning: null,
    });
  }
  const providerUsage = responseMetadata === null ? null : objectField(responseMetadata, 'usage');
  if (providerUsage !== null) {
    const details = objectField(providerUsage, 'completion_tokens_details');
    return completeUsage({
      input: numberField(providerUsage, 'input_tokens') ?? numberField(providerUsage, 'prompt_tokens'),
      output: numberField(providerUsage, 'output_tokens') ?? numberField(providerUsage, 'completion_tokens'),
      total: numberField(providerUsage, 'total_tokens'),
      reasoning: details === null ? null : numberField(details, 'reasoning_tokens'),
    });
  }
  return null;
}

function completeUsage(usage: TokenUsage): TokenUsage | null {
  if (usage.input === null && usage.output === null && usage.total === null) return null;
  const total = usage.total ?? (usage.input ?? 0) + (usage.output ?? 0);
  return { ...usage, total };
}

function modelOf(responseMetadata: DecodedObject | null): string | null {
  if (responseMetadata === null) return null;
  return (
    stringField(responseMetadata, 'model_name') ??
    stringField(responseMetadata, 'model') ??
    stringField(responseMetadata, 'model_id') ??
    stringField(responseMetadata, 'ls_model_name')
  );
}

function readToolCalls(message: DecodedObject, additionalKwargs: DecodedObject | null): ToolCallRequest[] {
  const calls: ToolCallRequest[] = [];
  const toolCalls = message.tool_calls;
  if (Array.isArray(toolCalls)) {
    for (const call of toolCalls) {
      if (!isDecodedObject(call)) continue;
      calls.push({ id: stringField(call, 'id'), name: stringField(call, 'name') ?? '', args: call.args ?? {}, error: null });
    }
  } else if (additionalKwargs !== null && Array.isArray(additionalKwargs.tool_calls)) {
    // Messages from before `tool_calls` existed keep OpenAI's raw calls, with JSON-encoded arguments.
    for (const call of additionalKwargs.tool_calls) {
      if (!isDecodedObject(call)) continue;
      const fn = objectField(call, 'function');
      const rawArgs = fn === null ? undefined : fn.arguments;
      calls.push({
        id: stringField(call, 'id'),
        name: fn === null ? '' : (stringField(fn, 'name') ?? ''),
        args: typeof rawArgs === 'string' ? parseJsonOrText(rawArgs) : (rawArgs ?? {}),
        error: null,
      });
    }
  }
  const invalid = message.invalid_tool_calls;
  if (Array.isArray(invalid)) {
    for (const call of invalid) {
      if (!isDecodedObject(call)) continue;
      calls.push({
        id: stringField(call, 'id'),
        name: stringField(call, 'name') ?? '',
        args: call.args ?? null,
        error: stringField(call, 'error') ?? 'invalid tool call',
      });
    }
  }
  return calls;
}

function roleOf(className: string | null, value: DecodedObject): MessageRole | null {
  if (className !== null) {
    const base = className.replace(/Chunk$/, '');
    switch (base) {
      case 'HumanMessage':
        return 'human';
      case 'AIMessage':
        return 'ai';
      case 'ToolMessage':
      case 'FunctionMessage':
        return 'tool';
      case 'SystemMessage':
        return 'system';
      case 'ChatMessage':
        return roleFromName(stringField(value, 'role')) ?? 'other';
      case 'RemoveMessage':
        return null;
      default:
        if (!base.endsWith('Message')) return null;
    }
  }
  return roleFromName(stringField(value, 'role') ?? stringField(value, 'type'));
}

function roleFromName(name: string | null): MessageRole | null {
  switch (name) {
    case 'user':
    case 'human':
      return 'human';
    case 'assistant':
    case 'ai':
      return 'ai';
    case 'tool':
    case 'function':
      return 'tool';
    case 'system':
    case 'developer':
      return 'system';
    default:
      return null;
  }
}

function plainMessage(role: MessageRole, text: string): ReplayMessage {
  return {
    id: null,
    role,
    className: null,
    content: text,
    text,
    toolCalls: [],
    toolCallId: null,
    toolName: null,
    status: null,
    reasoning: null,
    usage: null,
    model: null,
  };
}

function parseJsonOrText(text: string): DecodedValue {
  try {
    return JSON.parse(text) as DecodedValue;
  } catch {
    return text;
  }
}

function objectField(value: DecodedObject, key: string): DecodedObject | null {
  const field = value[key];
  return isDecodedObject(field) ? field : null;
}

function stringField(value: DecodedObject, key: string): string | null {
  const field = value[key];
  return typeof field === 'string' ? field : null;
}

function numberField(value: DecodedObject, key: string): number | null {
  const field = value[key];
  return typeof field === 'number' && Number.isFinite(field) ? field : null;
}
