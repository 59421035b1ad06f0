// One message and what the client makes of the reply: text, reasoning, a server-side
// tool's dynamic-tool part, or an error (the client's `status` and `error`).
// `--chat=<id>` names the chat (a conversation's own id works).
import { makeChat, report, run } from './lib.mjs';

const named = process.argv.find(arg => arg.startsWith('--chat='));

run(async () => {
  const chat = makeChat({ id: named ? named.slice('--chat='.length) : `turn-${Date.now()}` });
  await chat.sendMessage({ text: 'Go' });
  return report(chat);
});
