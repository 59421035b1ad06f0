// The chat page: renders the branch from the API's JSON and streams replies over the
// conversation's websocket (the README's "Streaming" section). Text from users and models
// only ever goes into text nodes; the one HTML we insert is the server's sanitized
// rendering (`item.html`).

const data = JSON.parse(document.getElementById("chat-data").textContent);
const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]")?.value || "";

const state = {
  conversation: data.conversation, // null until the first message is sent
  messages: data.conversation ? data.conversation.messages : [],
  hasMore: data.conversation ? data.conversation.has_more : false, // earlier messages not loaded
  loadingEarlier: null, // the request for them, while it runs
  streams: new Map(), // message id -> {seq, items: Map(index -> {type, text})}
  socket: null,
  outbox: [], // messages typed while the socket was down, sent when it is back
  heard: new Map(), // message id -> when a frame about it last came (or we asked)
  retry: 0,
  reconnectTimer: null,
  connectionLost: false, // the socket was lost and is not back yet
  followScroll: true,
};

const $ = (selector, root = document) => root.querySelector(selector);
const messagesBox = $("#messages");
const messagesInner = $("#messages-inner");
const composer = $("#composer");
const input = $("#composer-input");
const sendButton = $("#send-button");
const liveRegion = $("#live-region");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---------------------------------------------------------------- API

async function api(method, path, body) {
  let response;
  try {
    response = await fetch(`/api/${path}`, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (error) {
    const detail = navigator.onLine
      ? "Could not reach the server. Check the connection and try again."
      : "You are offline. Try again when the connection is back.";
    showError(detail);
    throw new Error(detail);
  }
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = errorText(payload) || `Request failed (${response.status})`;
    showError(typeof detail === "string" ? detail : JSON.stringify(detail));
    throw Object.assign(new Error(detail), { status: response.status });
  }
  return payload;
}

// What an error body or frame says; a spent quota also says when, in the reader's time.
function errorText(error) {
  const detail = error.detail || error.message || error.code;
  if (error.code === "quota_exceeded" && error.resets_at && typeof detail === "string") {
    return `${detail.replace(/\.$/, "")} (at ${formatTime(error.resets_at)}).`;
  }
  return detail;
}

const formatTime = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

// An error stays until it is dismissed or the next message is sent.
function showError(text) {
  $("#notice-text").textContent = text;
  $("#notice").hidden = false;
}

function clearError() {
  $("#notice").hidden = true;
}

// ---------------------------------------------------------------- rendering

const ROLE_NAMES = { user: "You", assistant: "Assistant", system: "System", tool: "Tool" };
const STATUS_WORDS = {
  queued: "Waiting for the previous reply…",
  in_progress: "Writing…",
  cancelled: "Stopped.",
};

function textOf(item) {
  if (item.type === "refusal") return item.refusal || "";
  return item.text || "";
}

function renderItem(item, message) {
  switch (item.type) {
    case "input_text":
      return el("div", { class: "user-text streaming-text" }, item.text || "");
    case "output_text": {
      const body = el("div", { class: "output-text" });
      if (item.html !== undefined) body.innerHTML = item.html; // sanitized by the server
      else body.append(el("div", { class: "streaming-text" }, item.text || ""));
      const citations = (item.annotations || []).filter((a) => a.url);
      if (citations.length) {
        body.append(
          el("ol", { class: "citations" },
            citations.map((a) => el("li", {}, el("a", { href: safeUrl(a.url), rel: "noopener noreferrer nofollow", target: "_blank" }, a.title || a.url)))),
        );
      }
      return body;
    }
    case "reasoning": {
      const text = (item.summary || []).map((part) => part.text || "").join("\n\n") || item.text || "";
      // Open while the model is reasoning; folded once it answers, so its end moves nothing.
      const reasoning = message.status === "in_progress" && message.content.at(-1) === item;
      return el("details", { class: "reasoning", open: reasoning },
        el("summary", {}, "Reasoning"), el("div", { class: "streaming-text" }, text));
    }
    case "function_call":
      return el("div", { class: "function-call" },
        el("div", {}, "Called ", el("span", { class: "name" }, item.name || "tool"), toolServer(item)),
        el("pre", {}, item.arguments || ""));
    case "function_call_output":
      return el("div", { class: item.is_error ? "function-call failed" : "function-call" },
        el("div", {}, item.is_error ? "Failed" : "Result", toolServer(item)),
        el("pre", {}, item.output || ""));
    case "refusal":
      return el("p", { class: "refusal" }, item.refusal || "");
    case "input_image": {
      const src = item.file_id ? attachmentUrl(item.file_id) : safeUrl(item.image_url, ["data:"]);
      const href = item.file_id ? src : safeUrl(item.image_url);
      const image = el("img", { class: "attachment-thumb", src, alt: "attached image" });
      return href === "#" ? image : el("a", { href, target: "_blank", rel: "noopener" }, image);
    }
    case "input_file":
      return el("a", { class: "chip", href: item.file_id ? attachmentUrl(item.file_id) : "#" }, item.filename || "file");
    default:
      return el("div", { class: "unknown-item" }, el("div", {}, item.type), el("pre", {}, JSON.stringify(item, null, 2)));
  }
}

// Which MCP server a tool call went to (built-in tools run here and name none).
function toolServer(item) {
  return item.server ? el("span", { class: "server" }, " · MCP server ", el("b", {}, item.server)) : null;
}

function attachmentUrl(id) {
  return `/api/attachments/${encodeURIComponent(id)}/`;
}

// http(s) only, unless `alsoProtocols` says more: a data: URL may be an image's src but
// never a link's href (opened, it is a page of its own that anyone could have written).
function safeUrl(url, alsoProtocols = []) {
  try {
    const parsed = new URL(url, location.href);
    return ["http:", "https:", ...alsoProtocols].includes(parsed.protocol) ? parsed.href : "#";
  } catch {
    return "#";
  }
}

function statusLine(message) {
  if (state.connectionLost && (message.status === "queued" || message.status === "in_progress")) return waitingLine();
  if (message.status === "queued" || message.status === "in_progress") {
    return el("div", { class: "status-line" },
      el("span", { class: "typing", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      el("span", {}, STATUS_WORDS[message.status]),
      el("button", { type: "button", class: "stop-button", onclick: () => send({ type: "generation.cancel", message_id: message.id }) }, "Stop"));
  }
  if (message.status === "failed" || message.status === "incomplete") {
    const why = message.error?.message || message.error?.code || "The reply did not finish.";
    return el("div", { class: `status-line ${message.status}`, role: "alert" },
      el("span", {}, message.status === "failed" ? `Failed: ${why}` : `Incomplete: ${why}`),
      el("button", { type: "button", class: "retry-button", onclick: () => regenerate(message) }, "Retry"));
  }
  if (message.status === "cancelled") return el("div", { class: "status-line cancelled" }, STATUS_WORDS.cancelled);
  return null;
}

function branchSwitcher(message) {
  const siblings = message.sibling_ids || [message.id];
  if (siblings.length < 2) return null;
  const index = siblings.indexOf(message.id);
  const go = (offset) => () => send({ type: "branch.switch", message_id: siblings[index + offset] });
  return el("span", { class: "branch-switcher" },
    el("button", { type: "button", class: "icon", "aria-label": "Previous version", disabled: index === 0, onclick: go(-1) }, "‹"),
    el("span", { class: "branch-position" }, `${index + 1}/${siblings.length}`),
    el("button", { type: "button", class: "icon", "aria-label": "Next version", disabled: index === siblings.length - 1, onclick: go(1) }, "›"));
}

function actionButton(label, onclick, extra = {}) {
  return el("button", { type: "button", class: "icon", onclick, ...extra }, label);
}

function messageActions(message) {
  const running = message.status === "queued" || message.status === "in_progress";
  const copy = (event) => copyMessage(message, event.currentTarget);
  const actions = [branchSwitcher(message), actionButton("Copy", copy, { "aria-label": "Copy message" })];
  if (message.role === "assistant" && !running) {
    const rating = message.feedback?.rating;
    actions.push(
      actionButton("Good", () => rate(message, "good"), { "aria-label": "Good reply", "aria-pressed": String(rating === "good") }),
      actionButton("Bad", () => rate(message, "bad"), { "aria-label": "Bad reply", "aria-pressed": String(rating === "bad") }),
      actionButton("Regenerate", () => regenerate(message), { title: "Regenerate with the model chosen under the conversation" }),
      actionButton("Share", () => openShareDialog(message)),
    );
  }
  if (message.role === "user") actions.push(actionButton("Edit", () => startEdit(message)));
  if (message.role === "user" && message.id === lastId()) {
    // Its reply was deleted (or never came): ask for one again.
    actions.push(actionButton("Regenerate", () => regenerate(message)));
  }
  actions.push(actionButton("Delete", () => deleteMessage(message), { class: "icon danger" }));
  if (message.role === "assistant" && message.model) actions.push(el("span", { class: "model-name" }, message.model));
  return el("div", { class: "message-actions" }, actions);
}

function renderMessage(message) {
  const items = message.content.map((item) => renderItem(item, message));
  const references = message.references?.length
    ? el("div", { class: "references" }, message.references.map((ref) => el("span", { class: "chip", title: ref.content || ref.url || "" }, ref.name || ref.url || ref.type)))
    : null;
  return el("article", { class: `message ${message.role}`, "data-message-id": message.id, "data-status": message.status },
    el("div", { class: "avatar", "aria-hidden": "true" }, (ROLE_NAMES[message.role] || message.role).slice(0, 1)),
    el("div", { class: "message-main" },
      el("div", { class: "message-meta" }, el("span", { class: "role" }, ROLE_NAMES[message.role] || message.role), usageLabel(message)),
      references,
      el("div", { class: "message-body" }, items),
      statusLine(message),
      messageActions(message)));
}

// What the reply cost, shown when the pointer (or focus) is on it.
function usageLabel(message) {
  const usage = message.usage;
  if (message.role !== "assistant" || !usage) return null;
  const parts = [`${usage.input_tokens ?? 0} in`, `${usage.output_tokens ?? 0} out`];
  if (usage.reasoning_tokens) parts.push(`${usage.reasoning_tokens} reasoning`);
  return el("span", { class: "usage" }, `Tokens: ${parts.join(", ")}`);
}

function renderUnsent(frame) {
  return el("article", { class: "message user", "data-status": "unsent" },
    el("div", { class: "avatar", "aria-hidden": "true" }, ROLE_NAMES.user.slice(0, 1)),
    el("div", { class: "message-main" },
      el("div", { class: "message-meta" }, el("span", { class: "role" }, ROLE_NAMES.user)),
      el("div", { class: "message-body" }, el("div", { class: "user-text streaming-text" }, frame.content)),
      el("div", { class: "status-line" }, "Not sent yet: it goes out when the connection is back.")));
}

function renderAll() {
  const atBottom = state.followScroll;
  const earlier = state.hasMore ? [el("button", { type: "button", class: "show-earlier", onclick: () => loadEarlier() }, "Show earlier messages")] : [];
  messagesInner.replaceChildren(...earlier, ...state.messages.map(renderMessage), ...state.outbox.map(renderUnsent));
  $("#empty-state").hidden = state.messages.length > 0;
  // Suggested prompts until the first question (a welcome message may stand before it).
  $("#hints").hidden = state.hasMore || state.messages.some((message) => message.role === "user");
  if (atBottom) scrollToEnd();
  updateSendState();
}

function replaceMessage(message) {
  const index = state.messages.findIndex((m) => m.id === message.id);
  if (index === -1) return false;
  const wasRunning = ["queued", "in_progress"].includes(state.messages[index].status);
  message.sibling_ids ??= state.messages[index].sibling_ids;
  message.feedback ??= state.messages[index].feedback;
  state.messages[index] = message;
  const old = messagesInner.querySelector(`[data-message-id="${message.id}"]`);
  if (old) old.replaceWith(renderMessage(message));
  if (state.followScroll) scrollToEnd();
  updateSendState();
  if (wasRunning && ["completed", "failed", "incomplete"].includes(message.status)) announceReply(message);
  return true;
}

function scrollToEnd() {
  messagesBox.scrollTop = messagesBox.scrollHeight;
}

messagesBox.addEventListener("scroll", () => {
  // Follow the stream only while the reader is at the bottom.
  state.followScroll = messagesBox.scrollHeight - messagesBox.scrollTop - messagesBox.clientHeight < 40;
  if (messagesBox.scrollTop < 200) loadEarlier();
});

// A long conversation comes with the last page of its branch: the pages above load when
// the reader nears the top (or asks), one request at a time.
function loadEarlier(limit = 50) {
  if (!state.hasMore || !state.messages.length) return Promise.resolve();
  state.loadingEarlier ??= prependEarlier(limit).finally(() => (state.loadingEarlier = null));
  return state.loadingEarlier;
}

async function prependEarlier(limit) {
  const first = state.messages[0].id;
  const page = await api("GET", `conversations/${state.conversation.id}/branch/?before=${first}&limit=${limit}`);
  if (state.messages[0]?.id !== first) return; // reloaded meanwhile: the page is of another branch
  const fromBottom = messagesBox.scrollHeight - messagesBox.scrollTop;
  state.messages = [...page.messages, ...state.messages];
  state.hasMore = page.has_more;
  renderAll();
  messagesBox.scrollTop = messagesBox.scrollHeight - fromBottom; // the reader's place stays put
}

// ---------------------------------------------------------------- streaming

function applyDelta(frame) {
  const message = state.messages.find((m) => m.id === frame.message_id);
  if (!message) return;
  const stream = state.streams.get(message.id) || { seq: 0 };
  if (frame.seq <= stream.seq) return; // already applied (a snapshot covered it)
  if (frame.seq !== stream.seq + 1) {
    // A gap: the layer dropped something. Ask for the exact state again.
    send({ type: "sync", message_id: message.id, after_seq: 0 });
    return;
  }
  stream.seq = frame.seq;
  state.streams.set(message.id, stream);
  message.status = "in_progress";
  let item = message.content[frame.item_index];
  if (!item) {
    item = { type: frame.item_type };
    if (frame.item_type === "reasoning") item.summary = [{ type: "summary_text", text: "" }];
    message.content[frame.item_index] = item;
    replaceMessage(message);
  }
  appendText(message, frame.item_index, item, frame.delta);
}

function appendText(message, index, item, delta) {
  if (item.type === "reasoning") item.summary[0].text = (item.summary[0].text || "") + delta;
  else if (item.type === "function_call") item.arguments = (item.arguments || "") + delta;
  else if (item.type === "refusal") item.refusal = (item.refusal || "") + delta;
  else item.text = (item.text || "") + delta;
  if (item.type === "output_text") {
    renderLive(message.id, index);
    // Once rendered, the text shows at the next rendering, not delta by delta.
    if (item.html !== undefined) return;
  }
  delete item.html; // stale once text grows; the completed message brings it back
  const node = messagesInner.querySelector(`[data-message-id="${message.id}"] .message-body`)?.children[index];
  const target = node?.querySelector(".streaming-text, pre") || node;
  if (target && !target.querySelector("*")) {
    target.append(document.createTextNode(delta));
    if (state.followScroll) scrollToEnd();
  } else {
    replaceMessage(message);
  }
}

// ---------------------------------------------------------------- live markdown
// A reply being written is shown as markdown, rendered by the server's own pipeline
// (sanitized, highlighted), at most every RENDER_EVERY_MS and one request at a time; an
// unfinished code fence renders as code. The final rendering is the same HTML.

const RENDER_EVERY_MS = 100;
const liveRenders = new Map(); // "message id:item index" -> {timer, busy, again, last}

function renderLive(messageId, index) {
  const key = `${messageId}:${index}`;
  let job = liveRenders.get(key);
  if (!job) liveRenders.set(key, (job = { timer: null, busy: false, again: false, last: 0 }));
  if (job.busy || job.timer) {
    job.again = true;
    return;
  }
  const wait = Math.max(0, job.last + RENDER_EVERY_MS - Date.now());
  job.timer = setTimeout(() => runLiveRender(key, job, messageId, index), wait);
}

async function runLiveRender(key, job, messageId, index) {
  job.timer = null;
  job.busy = true;
  job.again = false;
  job.last = Date.now();
  const text = state.messages.find((m) => m.id === messageId)?.content[index]?.text || "";
  const html = await fetchMarkdown(text);
  job.busy = false;
  // Shown only if the reply is still being written: its final frame brings the rendering.
  const message = state.messages.find((m) => m.id === messageId);
  const item = message?.content[index];
  if (html !== null && message?.status === "in_progress" && item?.type === "output_text") {
    item.html = html;
    const node = messagesInner.querySelector(`[data-message-id="${messageId}"] .message-body`)?.children[index];
    if (node) {
      const fresh = renderItem(item, message);
      fresh.dataset.renderedLength = text.length;
      node.replaceWith(fresh);
      if (state.followScroll) scrollToEnd();
    }
  }
  if (job.again && message?.status === "in_progress") renderLive(messageId, index);
  else liveRenders.delete(key);
}

async function fetchMarkdown(text) {
  try {
    const response = await fetch("/api/markdown/", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
      body: JSON.stringify({ text }),
      credentials: "same-origin",
    });
    return response.ok ? (await response.json()).html : null;
  } catch {
    return null; // offline: the text stays as it is until the next rendering
  }
}

function onFrame(frame) {
  const about = frame.message_id || frame.message?.id;
  if (about) state.heard.set(about, Date.now());
  switch (frame.type) {
    case "message.created": {
      if (frame.message.role === "user") onSendAccepted(frame.message);
      const last = state.messages[state.messages.length - 1];
      if (replaceMessage(frame.message)) break;
      if (!last || frame.message.parent_id === last.id) {
        state.messages.push({ sibling_ids: [frame.message.id], ...frame.message });
        renderAll();
      } else {
        reload();
      }
      break;
    }
    case "message.delta":
      applyDelta(frame);
      break;
    case "message.snapshot":
      state.streams.set(frame.message.id, { seq: frame.seq });
      replaceMessage(frame.message);
      break;
    case "message.completed":
    case "message.failed":
      state.streams.delete(frame.message.id);
      replaceMessage(frame.message);
      break;
    case "message.updated":
      replaceMessage(frame.message);
      break;
    case "message.deleted":
      // Deleting the conversation (here or in another tab) deletes every message: its
      // page then has nothing left to show.
      reload().catch((error) => {
        if (error.status === 404) goHome();
      });
      break;
    case "conversation.updated":
      setTitle(frame.conversation.title);
      if (frame.conversation.current_leaf_id !== lastId()) reload();
      break;
    case "error":
      if (!onSendRefused(frame)) showError(errorText(frame));
      break;
  }
}

const lastId = () => state.messages[state.messages.length - 1]?.id || null;

async function reload() {
  const detail = await api("GET", `conversations/${state.conversation.id}/`);
  state.conversation = detail;
  state.messages = detail.messages;
  state.hasMore = detail.has_more;
  setTitle(detail.title);
  renderAll();
  syncRunning();
}

function syncRunning() {
  for (const message of state.messages) {
    if (message.status === "in_progress") askForState(message);
  }
}

function askForState(message) {
  state.heard.set(message.id, Date.now());
  send({ type: "sync", message_id: message.id, after_seq: state.streams.get(message.id)?.seq || 0 });
}

// A reply that has gone quiet may have lost frames on the way (a busy or failing
// channel layer drops them): ask for its state now and then until it ends.
const QUIET_MS = 5000;
setInterval(() => {
  if (state.socket?.readyState !== WebSocket.OPEN) return;
  for (const message of state.messages) {
    const waiting = message.status === "in_progress" || message.status === "queued";
    if (waiting && Date.now() - (state.heard.get(message.id) || 0) >= QUIET_MS) askForState(message);
  }
}, 1000);

// ---------------------------------------------------------------- socket

function connect() {
  if (!state.conversation) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/conversations/${state.conversation.id}/`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    state.retry = 0;
    socket.heardAt = Date.now();
    setConnection("online");
    // Catch up on whatever changed while we were away, then send what waited.
    if (socket.reconnected) reload().finally(flushOutbox);
    else {
      syncRunning();
      flushOutbox();
    }
  });
  socket.addEventListener("message", (event) => {
    if (socket.dropped) return;
    socket.heardAt = Date.now();
    onFrame(JSON.parse(event.data));
  });
  socket.addEventListener("close", (event) => {
    // Logged out, here or in another tab: reloading leads to the login page.
    if (event.code === 4401) {
      location.reload();
      return;
    }
    if (!socket.dropped) onSocketLost();
  });
}

function send(frame) {
  if (state.socket?.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
  else showError("Not connected. Reconnecting…");
}

function flushOutbox() {
  if (!state.outbox.length) return;
  for (const frame of state.outbox.splice(0)) send(frame);
  renderAll();
}

// The banner says the connection is lost (empty, it is hidden); replies being written
// say they wait for it rather than "Writing…".
function setConnection(status) {
  const lost = status !== "online";
  const detail = navigator.onLine
    ? "Reconnecting…"
    : "You are offline. What you send waits here and goes out once you are back.";
  const banner = $("#connection");
  const text = lost ? `Connection lost. ${detail}` : "";
  if (banner.textContent !== text) {
    banner.replaceChildren(...(lost ? [el("strong", {}, "Connection lost."), ` ${detail}`] : []));
  }
  if (lost === state.connectionLost) return;
  state.connectionLost = lost;
  for (const message of state.messages) {
    if (message.status === "queued" || message.status === "in_progress") replaceMessage(message);
  }
}

function waitingLine() {
  return el("div", { class: "status-line waiting" }, "Connection lost: the rest of this reply shows here once reconnected.");
}

function setTitle(title) {
  $("#conversation-title").textContent = title || "New conversation";
  document.title = `${title || "New conversation"} · Chat`;
  const link = document.querySelector(`.conversation-list [data-id="${state.conversation?.id}"] a`);
  if (link) link.textContent = title || "New conversation";
}

// ---------------------------------------------------------------- connection health
// A dead network often closes nothing: the socket stays "open" and the page would wait on
// it for good. So a socket that has gone quiet is pinged and dropped when no frame answers
// in time, and the browser's offline event drops it at once. A dropped socket is replaced
// (with backoff, at once when the browser is back online); the page then catches up
// through sync and sends what waited in the outbox.

const PING_AFTER_MS = 5000; // a socket quiet this long is pinged...
const ANSWER_WITHIN_MS = 5000; // ...and dropped if no frame at all comes this long after

function checkSocket() {
  const socket = state.socket;
  if (socket?.readyState !== WebSocket.OPEN || socket.dropped) return;
  const now = Date.now();
  if (socket.pingedAt > socket.heardAt) {
    if (now - socket.pingedAt >= ANSWER_WITHIN_MS) dropSocket(socket);
  } else if (now - socket.heardAt >= PING_AFTER_MS) {
    socket.pingedAt = now;
    socket.send(JSON.stringify({ type: "ping" }));
  }
}

// Given up without waiting for the close handshake, which a dead line never completes.
function dropSocket(socket) {
  socket.dropped = true;
  socket.close();
  onSocketLost();
}

function onSocketLost() {
  setConnection("offline");
  requeueSending();
  scheduleReconnect(Math.min(1000 * 2 ** state.retry, 10000));
}

function scheduleReconnect(delay) {
  clearTimeout(state.reconnectTimer);
  state.retry += 1;
  state.reconnectTimer = setTimeout(() => {
    if (!navigator.onLine) return; // it could only fail: the online event tries again
    connect();
    state.socket.reconnected = true;
  }, delay);
}

const socketAlive = (socket) => socket && !socket.dropped && socket.readyState <= WebSocket.OPEN;

addEventListener("offline", () => {
  if (socketAlive(state.socket)) dropSocket(state.socket);
  else setConnection("offline");
});
addEventListener("online", () => {
  if (!state.conversation) setConnection("online"); // no socket to wait for
  else if (!socketAlive(state.socket)) {
    state.retry = 0;
    scheduleReconnect(0);
  } else setConnection(state.socket.readyState === WebSocket.OPEN ? "online" : "offline");
});
setInterval(checkSocket, 1000);

// ---------------------------------------------------------------- actions

async function copyMessage(message, button) {
  const text = message.content.map(textOf).filter(Boolean).join("\n\n");
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    showError("Copying is not allowed here.");
    return;
  }
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

async function rate(message, rating) {
  if (message.feedback?.rating === rating) {
    await api("DELETE", `messages/${message.id}/feedback/`);
    message.feedback = null;
    replaceMessage(message);
    return;
  }
  message.feedback = await api("PUT", `messages/${message.id}/feedback/`, { rating });
  replaceMessage(message);
  if (rating === "bad") askWhy(message);
}

function askWhy(message) {
  // An optional comment on a bad reply, saved with the rating.
  const node = messagesInner.querySelector(`[data-message-id="${message.id}"] .message-main`);
  const area = el("textarea", { "aria-label": "What went wrong? (optional)", placeholder: "What went wrong? (optional)" });
  const form = el("form", { class: "feedback-form" }, area,
    el("div", { class: "row" },
      el("button", { type: "button", onclick: () => form.remove() }, "Skip"),
      el("button", { type: "submit", class: "primary" }, "Send feedback")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.feedback = await api("PUT", `messages/${message.id}/feedback/`, { rating: "bad", comment: area.value });
    replaceMessage(message);
    thankForFeedback(message);
  });
  node.append(form);
  // Under the last reply the form would open below the fold: bring all of it into view.
  area.focus({ preventScroll: true });
  form.scrollIntoView({ block: "nearest" });
}

function thankForFeedback(message) {
  messagesInner.querySelector(`[data-message-id="${message.id}"] .message-main`)
    ?.append(el("div", { class: "feedback-thanks", role: "status" }, "Thanks, your feedback was sent."));
}

function startEdit(message) {
  const node = messagesInner.querySelector(`[data-message-id="${message.id}"] .message-body`);
  const area = el("textarea", { "aria-label": "Edit message" });
  area.value = message.content.filter((item) => item.type === "input_text").map(textOf).join("\n");
  const form = el("form", { class: "edit-form" }, area,
    el("div", { class: "row" },
      el("button", { type: "button", onclick: () => replaceMessage(message) }, "Cancel"),
      el("button", { type: "submit", class: "primary" }, "Save and send")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (area.value.trim()) send({ type: "message.edit", message_id: message.id, content: area.value, model: chosenModel() });
  });
  node.replaceChildren(form);
  area.focus();
}

async function deleteMessage(message) {
  const what = message.role === "user" ? "this message and the replies after it" : "this reply and what follows it";
  if (!confirm(`Delete ${what}?`)) return;
  await api("DELETE", `messages/${message.id}/`);
  await reload();
}

async function openShareDialog(message) {
  // The list offers the whole branch up to the message: load what is not shown yet.
  while (state.hasMore) await loadEarlier(200);
  const dialog = $("#share-dialog");
  const list = $("#share-messages", dialog);
  const upto = state.messages.slice(0, state.messages.findIndex((m) => m.id === message.id) + 1);
  list.replaceChildren(...upto.map((m) =>
    el("li", {}, el("label", {}, el("input", { type: "checkbox", value: m.id, checked: true }),
      `${ROLE_NAMES[m.role]}: ${m.content.map(textOf).join(" ").slice(0, 80)}`))));
  $("#share-link", dialog).value = "";
  $("#share-revoke", dialog).hidden = true;
  dialog.dataset.messageId = message.id;
  dialog.showModal();
}

async function createShare() {
  const dialog = $("#share-dialog");
  const boxes = [...dialog.querySelectorAll("#share-messages input")];
  const selected = boxes.filter((box) => box.checked).map((box) => box.value);
  const body = { message_id: dialog.dataset.messageId };
  if (selected.length !== boxes.length) body.selected = selected;
  const days = Number($("#share-expiry", dialog).value);
  if (days) body.expires_at = new Date(Date.now() + days * 86400000).toISOString();
  const share = await api("POST", `conversations/${state.conversation.id}/shares/`, body);
  $("#share-link", dialog).value = share.url;
  $("#share-link", dialog).select();
  const revoke = $("#share-revoke", dialog);
  revoke.hidden = false;
  revoke.onclick = async () => {
    await api("DELETE", `shares/${share.token}/`);
    $("#share-link", dialog).value = "Revoked: the link no longer works.";
    revoke.hidden = true;
  };
}

function addConversationLink(conversation) {
  const list = $("#conversation-list");
  list.querySelector(".empty")?.remove();
  list.querySelectorAll("li.active").forEach((li) => li.classList.remove("active"));
  list.prepend(conversationItem(conversation));
}

function conversationItem(conversation) {
  return el("li", { "data-id": conversation.id, class: "active" },
    el("a", { href: `/c/${conversation.id}/` }, conversation.title || "New conversation"));
}

// ---------------------------------------------------------------- sending
// A draft is never lost: it stays in the composer until the server accepts it, and a
// refusal (too long, rate limited, queue full, offline, server error) gives it back with
// an error that stays until dismissed or the next send.

const limits = data.limits || {};
const drafts = new Map(); // idempotency key -> {frame, uploads}: sent, not yet accepted
let sending = null; // the key of the draft still shown in the composer while it is sent

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function draftProblem(text) {
  const limit = limits.max_message_chars;
  const length = [...text].length; // code points, as the server counts them
  if (limit && length > limit) {
    return `This message has ${length.toLocaleString()} characters; the limit is ${limit.toLocaleString()}. Shorten it or split it.`;
  }
  return null;
}

function setComposerBusy(busy) {
  input.readOnly = busy;
  updateSendState();
}

function clearDraft() {
  input.value = "";
  pending.length = 0;
  renderPending();
  updateSendState();
}

function restoreDraft({ frame, uploads }) {
  // The composer may hold a newer draft meanwhile: the refused text goes before it.
  const newer = input.value.trim();
  input.value = newer && newer !== frame.content ? `${frame.content}\n\n${input.value}` : frame.content;
  for (const upload of uploads) if (!pending.some((p) => p.id === upload.id)) pending.push(upload);
  renderPending();
  updateSendState();
  input.focus();
}

async function submitDraft() {
  const text = input.value.trim();
  if ((!text && !pending.length) || input.readOnly) return;
  clearError();
  const problem = draftProblem(text);
  if (problem) {
    showError(problem);
    return;
  }
  const uploads = [...pending];
  const frame = { type: "message.create", content: text, attachments: uploads.map((u) => u.id), model: chosenModel(), idempotency_key: newKey() };
  state.followScroll = true;
  if (!state.conversation) {
    await startConversation(frame);
    return;
  }
  drafts.set(frame.idempotency_key, { frame, uploads });
  if (state.socket?.readyState === WebSocket.OPEN) {
    sending = frame.idempotency_key;
    setComposerBusy(true);
    send(frame);
  } else {
    // Offline: shown as "not sent yet" and sent when the connection is back.
    clearDraft();
    state.outbox.push(frame);
    renderAll();
  }
}

// A new conversation is created with its first message, in one request: a refused
// message leaves no empty conversation behind.
async function startConversation(frame) {
  setComposerBusy(true);
  let created;
  try {
    created = await api("POST", "conversations/", { model: frame.model, message: { content: frame.content, attachments: frame.attachments } });
  } catch {
    return; // the error is shown and the draft stays
  } finally {
    setComposerBusy(false);
  }
  clearDraft();
  history.replaceState(null, "", `/c/${created.id}/`);
  state.conversation = created;
  state.messages = created.messages;
  state.hasMore = created.has_more;
  $("#conversation-actions").hidden = false;
  addConversationLink(created);
  setTitle(created.title);
  renderAll();
  connect();
}

function onSendAccepted(message) {
  const text = message.content.filter((item) => item.type === "input_text").map(textOf).join("\n");
  for (const [key, draft] of drafts) {
    if (draft.frame.content !== text) continue;
    drafts.delete(key);
    if (key === sending) {
      sending = null;
      setComposerBusy(false);
      clearDraft();
    }
    return;
  }
}

// An error frame answering one of our messages: its draft comes back. True if it was one.
function onSendRefused(frame) {
  const draft = frame.idempotency_key && drafts.get(frame.idempotency_key);
  if (!draft) return false;
  drafts.delete(frame.idempotency_key);
  if (frame.idempotency_key === sending) {
    sending = null;
    setComposerBusy(false); // the text is still in the composer
  } else {
    restoreDraft(draft);
  }
  showError(errorText(frame));
  return true;
}

// The socket closed before the server answered: the message waits in the outbox, shown
// as not sent yet, and goes again with the same key (never twice) when the line is back.
function requeueSending() {
  if (!sending) return;
  const { frame } = drafts.get(sending);
  sending = null;
  setComposerBusy(false);
  clearDraft();
  state.outbox.push(frame);
  renderAll();
}

// ---------------------------------------------------------------- composer

function updateSendState() {
  // While a reply is written and nothing is typed, Send is Stop (as in ChatGPT); typed
  // text makes it Send again, and the message waits behind the reply.
  const stop = canStop();
  sendButton.dataset.mode = stop ? "stop" : "send";
  sendButton.textContent = input.readOnly ? "Sending…" : stop ? "Stop" : "Send";
  sendButton.setAttribute("aria-label", stop ? "Stop the reply" : "Send");
  sendButton.disabled = !stop && (!hasDraft() || input.readOnly);
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 192)}px`;
}

input.addEventListener("input", updateSendState);
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});
composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submitDraft();
});
$("#notice-dismiss").addEventListener("click", clearError);

// Attachments: uploaded when chosen, sent by id with the next message.
const pending = [];
const fileInput = $("#attach-input");
$("#attach-button").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", async () => {
  const files = [...fileInput.files];
  fileInput.value = "";
  await uploadFiles(files);
});

async function uploadFiles(files) {
  for (const file of files) {
    const body = new FormData();
    body.append("file", file);
    try {
      const response = await fetch("/api/attachments/", {
        method: "POST", body, headers: { "X-CSRFToken": csrfToken }, credentials: "same-origin",
      });
      const payload = await response.json().catch(() => ({}));
      if (response.ok) pending.push(payload);
      else showError(payload.detail || `Upload failed (${response.status})`);
    } catch {
      showError(`Could not upload ${file.name}: the server cannot be reached.`);
    }
    renderPending();
  }
}

function renderPending() {
  $("#pending-attachments").replaceChildren(...pending.map((upload, index) =>
    el("span", { class: "chip" }, upload.name,
      el("button", { type: "button", class: "icon", "aria-label": `Remove ${upload.name}`, onclick: () => { pending.splice(index, 1); renderPending(); } }, "×"))));
  updateSendState(); // an attachment alone is a message
}
for (const hint of document.querySelectorAll("#hints button")) {
  hint.addEventListener("click", () => {
    input.value = hint.textContent;
    updateSendState();
    composer.requestSubmit();
  });
}
$("#share-create").addEventListener("click", createShare);
$("#share-close").addEventListener("click", () => $("#share-dialog").close());

// Copy buttons inside server-rendered code blocks.
messagesInner.addEventListener("click", (event) => {
  const button = event.target.closest(".copy-code");
  if (!button) return;
  const code = button.closest(".codeblock")?.querySelector("pre")?.textContent || "";
  navigator.clipboard.writeText(code).then(() => {
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
});

// Sidebar: search, rename, archive, delete.
$("#search")?.addEventListener("input", async (event) => {
  const query = event.target.value.trim();
  const archived = data.archived ? "&archived=1" : ""; // the Archived view searches the archive
  const page = await api("GET", `conversations/?q=${encodeURIComponent(query)}${archived}`);
  const list = $("#conversation-list");
  list.replaceChildren(...page.results.map((c) => {
    const item = conversationItem(c);
    item.classList.toggle("active", c.id === state.conversation?.id);
    return item;
  }));
  if (!page.results.length) list.append(el("li", { class: "empty" }, "Nothing found."));
});
$("#rename-button").addEventListener("click", async () => {
  const title = prompt("Rename conversation", state.conversation.title || "");
  if (title === null) return;
  const updated = await api("PATCH", `conversations/${state.conversation.id}/`, { title });
  setTitle(updated.title);
});
$("#archive-button").addEventListener("click", async () => {
  const archived = !state.conversation.archived;
  await api("PATCH", `conversations/${state.conversation.id}/`, { archived });
  // Archived: back to the list; restored: the conversation, now in the list again.
  location.href = archived ? "/" : `/c/${state.conversation.id}/`;
});
// Once: a tab that deletes its conversation also hears of it (`message.deleted`), and a
// second navigation would abort the first.
let leaving = false;
function goHome() {
  if (leaving) return;
  leaving = true;
  location.href = "/";
}

$("#delete-button").addEventListener("click", async () => {
  if (!confirm("Delete this conversation and all its messages?")) return;
  await api("DELETE", `conversations/${state.conversation.id}/`);
  goHome();
});

// ---------------------------------------------------------------- stop and scroll
// Stop sits in the composer while a reply is written, and Escape does the same; a button
// brings a reader who scrolled up back to the end.

const runningReplies = () => state.messages.filter((m) => m.role === "assistant" && m.status === "in_progress");

const hasDraft = () => Boolean(input.value.trim() || pending.length);

function canStop() {
  return !input.readOnly && !hasDraft() && runningReplies().length > 0;
}

function stopReplies() {
  for (const message of runningReplies()) send({ type: "generation.cancel", message_id: message.id });
}

function setupStopAndScroll() {
  sendButton.addEventListener("click", (event) => {
    if (sendButton.dataset.mode !== "stop") return;
    event.preventDefault(); // not a submit: the composer is empty
    stopReplies();
  });
  document.addEventListener("keydown", (event) => {
    // Escape belongs to an open dialog or drawer first.
    if (event.key !== "Escape" || document.querySelector("dialog[open]") || $(".app").classList.contains("drawer-open")) return;
    if (!runningReplies().length) return;
    event.preventDefault();
    stopReplies();
  });
  const button = $("#scroll-bottom");
  const update = () => (button.hidden = state.followScroll);
  messagesBox.addEventListener("scroll", update);
  button.addEventListener("click", () => {
    state.followScroll = true;
    scrollToEnd();
    update();
  });
}

// ---------------------------------------------------------------- files, announcements
// Files dropped on the conversation or pasted in the composer are attached like chosen
// ones. Screen readers hear each reply once, when it is complete, at most once a second.

function setupFileDrop() {
  const zone = $(".chat");
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  zone.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // allows the drop
    zone.classList.add("dropping");
  });
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("dropping");
  });
  zone.addEventListener("drop", (event) => {
    zone.classList.remove("dropping");
    if (!event.dataTransfer?.files.length) return;
    event.preventDefault(); // the browser would open the file instead
    uploadFiles([...event.dataTransfer.files]);
  });
  input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return; // text pastes as usual
    event.preventDefault();
    uploadFiles(files);
  });
}

const ANNOUNCE_EVERY_MS = 1000;
const announcements = { queued: [], timer: null, last: 0 };

function announceReply(message) {
  const node = messagesInner.querySelector(`[data-message-id="${message.id}"]`);
  const text = [...(node?.querySelectorAll(".output-text, .refusal") || [])]
    .map((part) => part.textContent).join(" ").replace(/\s+/g, " ").trim().slice(0, 500);
  if (message.status === "completed") announcements.queued.push(`Assistant replied: ${text}`);
  else announcements.queued.push(`The reply did not finish. ${text}`);
  if (announcements.timer) return;
  const wait = Math.max(0, announcements.last + ANNOUNCE_EVERY_MS - Date.now());
  announcements.timer = setTimeout(() => {
    liveRegion.textContent = announcements.queued.splice(0).join(" ");
    announcements.last = Date.now();
    announcements.timer = null;
  }, wait);
}

// ---------------------------------------------------------------- shared links
// Every link the user made, with a Revoke button each (GET /api/shares/).

async function openSharesDialog() {
  setDrawer(false);
  const dialog = $("#shares-dialog");
  const list = $("#shares-list", dialog);
  list.replaceChildren();
  $("#shares-empty", dialog).hidden = true;
  dialog.showModal();
  const shares = [];
  try {
    for (let path = "shares/?active=1"; path; ) {
      const page = await api("GET", path);
      shares.push(...page.results);
      path = page.next ? `shares/${new URL(page.next).search}` : null;
    }
  } catch {
    return; // the error is shown
  }
  list.replaceChildren(...shares.map(shareRow));
  $("#shares-empty", dialog).hidden = shares.length > 0;
}

function shareRow(share) {
  const title = share.title || "New conversation";
  const date = (iso) => new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  const views = `${share.view_count} ${share.view_count === 1 ? "view" : "views"}`;
  const expiry = share.expires_at ? ` · expires ${date(share.expires_at)}` : "";
  const status = el("span", { class: "share-status", role: "status" });
  const revoke = el("button", { type: "button", class: "danger", "aria-label": `Revoke the link to ${title}` }, "Revoke");
  const row = el("li", {},
    el("div", { class: "share-info" },
      el("a", { class: "share-title", href: `/c/${encodeURIComponent(share.conversation_id)}/` }, title),
      el("div", { class: "share-meta" }, `Shared ${date(share.created_at)} · ${views}${expiry} · `,
        el("a", { href: safeUrl(share.url), target: "_blank", rel: "noopener noreferrer" }, "Open link")),
      status),
    revoke);
  revoke.addEventListener("click", async () => {
    try {
      await api("DELETE", `shares/${encodeURIComponent(share.token)}/`);
    } catch {
      return; // the error is shown
    }
    revoke.remove();
    row.classList.add("revoked");
    status.textContent = "Revoked: the link no longer works.";
  });
  return row;
}

// ---------------------------------------------------------------- models and usage
// The composer's model picker (GET /api/models/) names the model of each message sent and
// of each reply regenerated; the conversation remembers the last one chosen.

const modelSelect = $("#model-select");

async function loadModels() {
  let choices;
  try {
    choices = await api("GET", "models/");
  } catch {
    return; // the error is shown; messages go to the conversation's model
  }
  modelSelect.replaceChildren(...choices.models.map((model) => el("option", { value: model.id }, model.name)));
  const kept = state.conversation?.model;
  modelSelect.value = choices.models.some((model) => model.id === kept) ? kept : choices.default;
  modelSelect.disabled = false;
}

// The model chosen, or undefined (not sent) while the list has not come.
const chosenModel = () => modelSelect.value || undefined;

function regenerate(message) {
  send({ type: "message.reset", message_id: message.id, model: chosenModel() });
}

const tokens = (n) => `${n.toLocaleString()} ${n === 1 ? "token" : "tokens"}`;
const replies = (n) => `${n.toLocaleString()} ${n === 1 ? "reply" : "replies"}`;

async function openUsageDialog() {
  setDrawer(false);
  const dialog = $("#usage-dialog");
  const body = $("#usage-body", dialog);
  body.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  dialog.showModal();
  try {
    body.replaceChildren(...usageView(await api("GET", "usage/")));
  } catch {
    body.replaceChildren(); // the error is shown
  }
}

function usageView(usage) {
  const { quota } = usage;
  let quotaText = `No daily quota. ${tokens(quota.used)} in the last 24 hours.`;
  if (quota.daily_tokens != null) {
    quotaText = `${tokens(quota.used)} of your ${tokens(quota.daily_tokens)} a day used in the last 24 hours; `;
    quotaText += quota.resets_at ? `you can chat again at ${formatTime(quota.resets_at)}.` : `${tokens(quota.remaining)} left.`;
  }
  const meter = quota.daily_tokens
    ? el("meter", { min: 0, max: quota.daily_tokens, value: Math.min(quota.used, quota.daily_tokens), "aria-label": "Daily quota used" })
    : null;
  const total = (period) => `${tokens(period.total_tokens)} (${period.input_tokens.toLocaleString()} prompt, ${period.output_tokens.toLocaleString()} completion) · ${replies(period.replies)}`;
  const cell = (n) => el("td", {}, n.toLocaleString());
  const byModel = usage.by_model.length
    ? el("table", { class: "usage-models" },
      el("caption", {}, "By model, last 30 days"),
      el("thead", {}, el("tr", {}, ["Model", "Prompt", "Completion", "Total"].map((name) => el("th", { scope: "col" }, name)))),
      el("tbody", {}, usage.by_model.map((row) =>
        el("tr", {}, el("td", {}, row.model || "unknown"), cell(row.input_tokens), cell(row.output_tokens), cell(row.total_tokens)))))
    : el("p", { class: "muted" }, "No replies in the last 30 days.");
  return [
    el("p", { id: "usage-quota" }, quotaText),
    meter,
    el("dl", { class: "usage-totals" },
      el("dt", {}, "Today"), el("dd", {}, total(usage.today)),
      el("dt", {}, "Last 30 days"), el("dd", {}, total(usage.last_30_days))),
    byModel,
  ].filter(Boolean);
}

// ---------------------------------------------------------------- phone drawer
// On a narrow screen the sidebar is a drawer: the menu button opens it; choosing a chat,
// the backdrop or Escape closes it.

function setDrawer(open) {
  $(".app").classList.toggle("drawer-open", open);
  $("#drawer-backdrop").hidden = !open;
  $("#menu-button").setAttribute("aria-expanded", String(open));
  if (open) $("#sidebar a")?.focus();
}

function setupDrawer() {
  $("#menu-button").addEventListener("click", () => setDrawer(!$(".app").classList.contains("drawer-open")));
  $("#drawer-backdrop").addEventListener("click", () => setDrawer(false));
  $("#sidebar").addEventListener("click", (event) => {
    if (event.target.closest("a")) setDrawer(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && $(".app").classList.contains("drawer-open")) setDrawer(false);
  });
}

setupDrawer();
setupStopAndScroll();
setupFileDrop();
$("#shares-button").addEventListener("click", openSharesDialog);
$("#usage-button").addEventListener("click", openUsageDialog);
$("#usage-close").addEventListener("click", () => $("#usage-dialog").close());
loadModels();
$("#shares-close").addEventListener("click", () => $("#shares-dialog").close());
renderAll();
updateSendState();
connect();
