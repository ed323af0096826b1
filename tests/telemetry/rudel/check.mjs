// Runs Rudel's own transcript schemas (vendored verbatim in api-routes/ and web/) over
// session files and prints, as JSON, what they accept. Usage: node check.mjs FILE.jsonl...
//
// The .ts sources are only stripped of their types (sucrase) into node_modules/.cache,
// so `zod` resolves from this package; relative imports get the `.js` Node needs.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { transform } from "sucrase";

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, "node_modules", ".cache", "rudel-contract");

async function load(flavour, names = ["conversation-schema", "codex-conversation-parser"]) {
	const out = join(build, flavour);
	mkdirSync(out, { recursive: true });
	for (const name of names) {
		const source = readFileSync(join(here, flavour, `${name}.ts`), "utf8");
		let { code } = transform(source, { transforms: ["typescript"] });
		code = code.replace(/from "(\.\/[^"]+?)(?:\.js)?"/g, 'from "$1.js"');
		writeFileSync(join(out, `${name}.js`), code);
	}
	return import(pathToFileURL(join(out, `${names[0]}.js`)).href);
}

// `node check.mjs --price DATE MODEL...`: what Rudel's rate card makes of model ids.
if (process.argv[2] === "--price") {
	const pricing = await load("api-routes", ["model-pricing", "model-rate-card"]);
	const [at, ...models] = process.argv.slice(3);
	const priced = {};
	for (const model of models) {
		const entry = pricing.resolveModelPricing(model, { at });
		priced[model] = entry ? { model: entry.model, provider: entry.provider } : null;
	}
	process.stdout.write(JSON.stringify(priced));
	process.exit(0);
}

const flavours = { "api-routes": await load("api-routes"), web: await load("web") };
const report = {};
for (const file of process.argv.slice(2)) {
	const content = readFileSync(file, "utf8");
	const lines = content.split("\n").filter(Boolean);
	const result = {};
	for (const [flavour, mod] of Object.entries(flavours)) {
		const perLine = lines.map((line) => {
			const parsed = JSON.parse(line);
			const r = mod.ConversationSchema.safeParse(parsed);
			// The union only says "invalid input": explain with the entry schema of the line's type.
			const entry = {
				user: mod.UserEntrySchema,
				assistant: mod.AssistantEntrySchema,
				system: mod.SystemEntrySchema,
				summary: mod.SummaryEntrySchema,
			}[parsed.type];
			const detail = r.success || !entry ? r : entry.safeParse(parsed);
			return {
				type: parsed.type,
				ok: r.success,
				issues: detail.success
					? []
					: detail.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
			};
		});
		const parsed = mod.parseConversations(content);
		result[flavour] = {
			lines: perLine,
			parsed: parsed.map((e) => e.type),
			codex: mod.isCodexFormat(content),
		};
	}
	report[file] = result;
}
process.stdout.write(JSON.stringify(report));
