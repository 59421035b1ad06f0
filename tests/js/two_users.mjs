// Two users with the same chat id: two chats, neither sees the other's; one user's
// conversation id names nothing for the other (404).
import { assert, makeChat, otherToken, report, run, storedChat } from './lib.mjs';

run(async () => {
  assert.ok(otherToken, 'two_users.mjs needs a second token');
  const id = `shared-${Date.now()}`;
  const alice = makeChat({ id });
  const bob = makeChat({ id, key: otherToken });
  await Promise.all([
    alice.sendMessage({ text: 'I am Alice' }),
    bob.sendMessage({ text: 'I am Bob' }),
  ]);
  const alicesConversation = (await storedChat(id)).conversation.id;
  const prying = makeChat({ id: alicesConversation, key: otherToken });
  await prying.resumeStream();
  return {
    alice: report(alice),
    bob: report(bob),
    aliceStored: (await storedChat(id)).messages,
    bobStored: (await storedChat(id, otherToken)).messages,
    prying: report(prying),
  };
});
