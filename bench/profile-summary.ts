// Summarises a V8 CPU profile (`node --cpu-prof`) by component: each sample's self time goes to the component
// of the function it was taken in (a package, one of our apps' or libs' folders, Node's internals, the garbage
// collector), as a share of the busy time (idle excluded).
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The component a function belongs to, from its script URL. */
export function componentOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (functionName === '(program)') return 'V8 and native (program)';
  if (url === '') return 'native (builtins)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const own = /dist\/(apps\/[^/]+\/src\/[^/.]+|libs\/[^/]+)/.exec(url);
  if (own) return own[1]!.replace('/src/', '/');
  if (url.startsWith('node:internal/deps/undici')) return 'undici';
  if (url.startsWith('node:internal/http') || url.startsWith('node:_http') || url === 'node:http')
    return 'node:http';
  if (url.startsWith('node:internal/streams') || url === 'node:stream') return 'node:streams';
  if (url.startsWith('node:internal/crypto') || url === 'node:crypto') return 'node:crypto';
  if (url.startsWith('node:net') || url.startsWith('node:internal/net') || url.includes('stream_base'))
    return 'node:net';
  if (url.startsWith('node:')) return 'node (other internals)';
  return url;
}

export interface ProfileSummary {
  busy_ms: number;
  components: { component: string; self_ms: number; share_pct: number }[];
}

/** Several profiles of the same process and workload, summed. */
export function summariseProfiles(profiles: readonly CpuProfile[]): ProfileSummary {
  const self = new Map<string, number>();
  for (const p of profiles)
    for (const c of summariseProfile(p).components)
      self.set(c.component, (self.get(c.component) ?? 0) + c.self_ms);
  return fromSelfTimes(new Map([...self].map(([c, ms]) => [c, ms * 1000])));
}

export function summariseProfile(profile: CpuProfile): ProfileSummary {
  // Node's own code and builtins are charged to the package or module of ours that called them: a socket
  // write kafkajs makes is kafkajs' cost, JSON.stringify in the publisher the publisher's. What runs with no
  // such caller (the HTTP parser and the response stream, called from the event loop) keeps Node's name.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const component = new Map<number, string>();
  const isNode = (c: string) => c.startsWith('node') || c === 'native (builtins)';
  const caller = (id: number | undefined): string | null => {
    for (let up = id; up !== undefined; up = parent.get(up)) {
      const c = componentOf(byId.get(up)!.callFrame);
      if (!isNode(c) && !c.startsWith('(') && !c.startsWith('V8') && c !== 'garbage collector') return c;
    }
    return null;
  };
  const resolve = (id: number): string => {
    const known = component.get(id);
    if (known !== undefined) return known;
    const own = componentOf(byId.get(id)!.callFrame);
    const c = isNode(own)
      ? (caller(parent.get(id)) ?? (own === 'native (builtins)' ? 'native, called from the event loop' : own))
      : own;
    component.set(id, c);
    return c;
  };
  for (const n of profile.nodes) resolve(n.id);
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const c = component.get(id) ?? '(unknown)';
    self.set(c, (self.get(c) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  self.delete('(idle)');
  return fromSelfTimes(self);
}

function fromSelfTimes(self: Map<string, number>): ProfileSummary {
  const busyUs = [...self.values()].reduce((a, b) => a + b, 0);
  const components = [...self.entries()]
    .map(([c, us]) => ({
      component: c,
      self_ms: Math.round(us / 1000),
      share_pct: +((100 * us) / busyUs).toFixed(1),
    }))
    .sort((a, b) => b.self_ms - a.self_ms);
  return { busy_ms: Math.round(busyUs / 1000), components };
}
