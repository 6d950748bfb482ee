// `npm run bench -- <name>`: runs one benchmark from bench/ and writes its JSON under bench/results/.
const BENCHES: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  gateway: () => import('./gateway.bench'),
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const load = name ? BENCHES[name] : undefined;
  if (!load) throw new Error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>`);
  await (await load()).main(args);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
