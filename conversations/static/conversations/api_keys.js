// The API keys page: list, create (the new key shown once, with a Copy button), revoke.
// Everything the server sends is written as text, never as HTML.

const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
const body = document.getElementById("keys-body");
const empty = document.getElementById("keys-empty");
const errorBox = document.getElementById("keys-error");
const form = document.getElementById("key-form");
const nameInput = document.getElementById("key-name");
const newKey = document.getElementById("new-key");
const newKeyValue = document.getElementById("new-key-value");
const copyButton = document.getElementById("copy-key");

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...options,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.detail) || `The server answered ${response.status}.`);
  return data;
}

function showError(error) {
  errorBox.textContent = error ? error.message : "";
  errorBox.hidden = !error;
}

function when(value) {
  return value ? new Date(value).toLocaleString() : "Never";
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function row(key) {
  const tr = document.createElement("tr");
  tr.dataset.id = key.id;
  tr.append(
    cell(key.name),
    cell(`${key.prefix}…`),
    cell(when(key.created_at)),
    cell(when(key.last_used_at)),
    cell(key.revoked_at ? "Revoked" : "Active"),
  );
  const actions = document.createElement("td");
  if (!key.revoked_at) {
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "danger";
    revoke.textContent = "Revoke";
    revoke.setAttribute("aria-label", `Revoke ${key.name}`);
    revoke.addEventListener("click", () => revokeKey(key));
    actions.append(revoke);
  }
  tr.append(actions);
  return tr;
}

function render(keys) {
  body.replaceChildren(...keys.map(row));
  empty.hidden = keys.length > 0;
}

async function load() {
  try {
    render(await api("/api/keys/"));
    showError(null);
  } catch (error) {
    showError(error);
  }
}

async function revokeKey(key) {
  try {
    await api(`/api/keys/${key.id}/`, { method: "DELETE" });
    if (newKey.dataset.id === key.id) hideNewKey();
    await load();
  } catch (error) {
    showError(error);
  }
}

function hideNewKey() {
  newKey.hidden = true;
  newKeyValue.textContent = "";
  delete newKey.dataset.id;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const created = await api("/api/keys/", {
      method: "POST",
      body: JSON.stringify({ name: nameInput.value }),
    });
    form.reset();
    newKey.dataset.id = created.id;
    document.getElementById("new-key-name").textContent = created.name;
    newKeyValue.textContent = created.key;
    copyButton.textContent = "Copy";
    newKey.hidden = false;
    await load();
  } catch (error) {
    showError(error);
  }
});

copyButton.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(newKeyValue.textContent);
    copyButton.textContent = "Copied";
  } catch {
    // No clipboard (an insecure origin): select the key for the person to copy.
    window.getSelection().selectAllChildren(newKeyValue);
    copyButton.textContent = "Selected: copy it";
  }
});

load();
