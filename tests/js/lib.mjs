// What every script shares: the AI SDK's real client (`AbstractChat` with its
// `DefaultChatTransport`, as `useChat` runs it, minus React) pointed at the live server.
//
//   node <script>.mjs <server url> <token> [<another user's token>] [--ai5]
//
// `--ai5` runs ai@5.0.0 (its chunk schema rejects unknown fields) instead of ai 6.x.
// A script prints one JSON report on stdout and exits 1 when a step fails.

import assert from 'node:assert/strict';

const positional = process.argv.slice(2).filter(arg => !arg.startsWith('--'));
export const [url, token, otherToken] = positional;
export const ai = await import(process.argv.includes('--ai5') ? 'ai5' : 'ai');

// The chat's state kept in plain arrays, as the React, Vue and Svelte bindings keep it in
// theirs.
class ArrayChatState {
  constructor(messages = []) {
    this.status = 'ready';
    this.error = undefined;
    this.messages = messages;
  }

  pushMessage = message => {
    this.messages = this.messages.concat(message);
  };

  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };

  replaceMessage = (index, message) => {
    this.messages = [
      ...this.messages.slice(0, index),
      message,
      ...this.messages.slice(index + 1),
    ];
  };

  snapshot = value => structuredClone(value);
}

class NodeChat extends ai.AbstractChat {
  constructor(init) {
    super({ ...init, state: new ArrayChatState(init.messages ?? []) });
  }
}

/** A chat of the user holding `key`, as `useChat({id, messages, transport})` makes it. */
export function makeChat({ id, key = token, messages = [] }) {
  return new NodeChat({
    id,
    messages,
    transport: new ai.DefaultChatTransport({
      api: `${url}/api/chat`,
      headers: { Authorization: `Token ${key}` },
    }),
  });
}

/** GET /api/chat/<id>: the stored branch as UIMessages. */
export async function storedChat(id, key = token) {
  const response = await fetch(`${url}/api/chat/${id}`, {
    headers: { Authorization: `Token ${key}` },
  });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

export function textOf(message) {
  return message.parts
    .filter(part => part.type === 'text')
    .map(part => part.text)
    .join('');
}

/** [role, text] of each message. */
export function transcript(messages) {
  return messages.map(message => [message.role, textOf(message)]);
}

/** The chat as a report: its status, error and messages (id, role, text, parts). */
export function report(chat) {
  return {
    status: chat.status,
    error: chat.error?.message ?? null,
    messages: chat.messages.map(message => ({
      id: message.id,
      role: message.role,
      text: textOf(message),
      parts: message.parts,
    })),
  };
}

export async function until(condition, what, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** Run `main` and print its report; a failure is printed and exits 1. */
export async function run(main) {
  assert.ok(url && token, 'usage: node <script>.mjs <server url> <token> [<token>] [--ai5]');
  try {
    console.log(JSON.stringify(await main()));
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}

export { assert };
