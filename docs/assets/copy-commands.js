// Copy buttons on console blocks (those whose highlighting marks `$ ` prompts, class `gp`) copy
// the commands only: the `$ ` prompts are removed and
// output lines are left out, so a pasted block runs as written. A command continued with a
// trailing backslash keeps its continuation lines. Other blocks copy as Material does.
function consoleCommands(text) {
  const commands = [];
  let continued = false;
  for (const line of text.replace(/\n$/, "").split("\n")) {
    if (continued) {
      commands.push(line);
    } else if (line.startsWith("$ ")) {
      commands.push(line.slice(2));
    } else {
      continue;
    }
    continued = line.endsWith("\\");
  }
  return commands.join("\n");
}

document.addEventListener(
  "click",
  (event) => {
    const button = event.target.closest && event.target.closest(".md-clipboard, .md-code__button[data-md-type=copy]");
    if (!button) return;
    const selector = button.getAttribute("data-clipboard-target");
    const code = selector ? document.querySelector(selector) : null;
    if (!code || !code.querySelector(".gp")) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    navigator.clipboard.writeText(consoleCommands(code.innerText)).then(() => {
      button.setAttribute("data-copied", "true");
    });
  },
  true,
);
