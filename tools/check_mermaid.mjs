// Parses every ```mermaid block of the Markdown files named on the command line with mermaid
// itself (in jsdom), as GitHub renders them; exits 1 naming each block that does not parse.
// Run from .tools/node, where ./dev installs mermaid and jsdom (tools/tests/test_docs.py does):
//   cd .tools/node && node --input-type=module -e "$(cat ../../tools/check_mermaid.mjs)" FILE...
import fs from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await import("mermaid")).default;
mermaid.initialize({ startOnLoad: false });

let checked = 0;
let bad = 0;
for (const file of process.argv.slice(1)) {
  const text = fs.readFileSync(file, "utf8");
  for (const match of text.matchAll(/```mermaid\n([\s\S]*?)```/g)) {
    const line = text.slice(0, match.index).split("\n").length;
    checked++;
    try {
      const parsed = await mermaid.parse(match[1]);
      console.log(`ok    ${file}:${line} ${parsed.diagramType}`);
    } catch (err) {
      bad++;
      console.log(`ERROR ${file}:${line} ${String(err.message || err)}`);
    }
  }
}
console.log(`mermaid: ${checked - bad} of ${checked} diagrams parse`);
process.exit(bad || checked === 0 ? 1 : 0);
