// The shared page: read-only, so its only script shows dates in the reader's own time
// zone and language and makes the Copy buttons of code blocks work.

const dateFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});
for (const time of document.querySelectorAll("time[datetime]")) {
  const moment = new Date(time.dateTime);
  if (!Number.isNaN(moment.getTime())) {
    time.title = time.textContent; // the server's reading, in UTC
    time.textContent = dateFormat.format(moment);
  }
}

function showCopied(button, text) {
  button.textContent = text;
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest(".copy-code");
  if (!button) return;
  const code = button.closest(".codeblock")?.querySelector("pre");
  if (!code) return;
  // Without clipboard access (a page served over plain http) the code is selected instead,
  // for the reader's own Ctrl+C.
  const selectCode = () => {
    getSelection().selectAllChildren(code);
    showCopied(button, "Selected");
  };
  if (!navigator.clipboard) return selectCode();
  navigator.clipboard.writeText(code.textContent).then(() => showCopied(button, "Copied"), selectCode);
});
