// A stream dropped mid-reply (`stop()` only disconnects: the reply goes on on the server)
// and resumed twice: by the same chat (`resumeStream()`), and by a new tab that loads the
// chat (GET /api/chat/<id>, the reply half written) and resumes. Both end with the whole
// reply exactly once, in place of the partial message (no duplicate).
import { makeChat, report, run, storedChat, textOf, until } from './lib.mjs';

run(async () => {
  const id = `resume-${Date.now()}`;
  const chat = makeChat({ id });
  const sending = chat.sendMessage({ text: 'Count' });
  const reply = () => chat.messages.at(-1);
  await until(() => reply()?.role === 'assistant' && textOf(reply()).length > 0, 'a first delta');
  chat.stop();
  await sending;
  const dropped = report(chat);

  const loaded = await storedChat(id);
  const tab = makeChat({ id, messages: loaded.messages });
  await Promise.all([chat.resumeStream(), tab.resumeStream()]);

  // Resuming once the reply has ended: 204, nothing changes.
  const after = makeChat({ id, messages: (await storedChat(id)).messages });
  await after.resumeStream();
  return {
    dropped,
    loaded: loaded.messages,
    resumed: report(chat),
    tab: report(tab),
    after: report(after),
  };
});
