// First turn, continue, regenerate and edit, each through the real client, then the chat
// as the server stored it (GET /api/chat/<id>, what a page passes as initial messages).
import { assert, makeChat, report, run, storedChat } from './lib.mjs';

run(async () => {
  const id = `conversation-${Date.now()}`;
  const chat = makeChat({ id });
  const steps = {};

  await chat.sendMessage({ text: 'One' });
  steps.first = report(chat);
  await chat.sendMessage({ text: 'Two' });
  steps.continued = report(chat);
  await chat.regenerate();
  steps.regenerated = report(chat);
  const firstQuestion = chat.messages[0].id;
  await chat.sendMessage({ text: 'One, edited', messageId: firstQuestion });
  steps.edited = report(chat);

  for (const step of Object.values(steps)) assert.equal(step.status, 'ready', step.error);
  steps.stored = (await storedChat(id)).messages;
  return steps;
});
