// Optional third target of the load benchmark (--platform): a bare JS Worker that makes
// the same platform calls keygate makes for an admitted request, and nothing else:
//   one KV read (key hash -> key id), one Durable Object request carrying a JSON command
//   whose handler does one storage put (the counters), then the origin fetch.
// keygate minus this is what keygate's own code (Rust/wasm, glue, JSON) costs per request.
// With CACHE_KV = "1" (the --platform target "JS, KV cached") the KV answer is kept in the
// isolate, as keygate keeps it: then only the Durable Object call and the origin remain.
export class KeyAuthority {
  constructor(state) {
    this.state = state;
    this.count = 0;
  }

  async fetch(request) {
    const command = await request.json();
    this.count++;
    await this.state.storage.put("counters", JSON.stringify({ count: this.count, last: command.resource }));
    return Response.json({ admitted: true, count: this.count });
  }
}

const found = new Map();

async function keyId(env, token) {
  const cached = env.CACHE_KV === "1" ? found.get(token) : undefined;
  if (cached !== undefined) return cached;
  const id = await env.KEY_INDEX.get(`h1:${token}`);
  if (id !== null && env.CACHE_KV === "1") found.set(token, id);
  return id;
}

export default {
  async fetch(request, env) {
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer\s+/i, "");
    const id = await keyId(env, token);
    if (id === null) return new Response("unknown key", { status: 401 });
    const stub = env.KEY_AUTHORITY.get(env.KEY_AUTHORITY.idFromName(id));
    const reply = await stub.fetch("https://authority/admit", {
      method: "POST",
      body: JSON.stringify({ admit: { resource: "contacts", action: "read" } }),
    });
    await reply.json();
    const url = new URL(request.url);
    return fetch(new Request(new URL(url.pathname + url.search, env.ORIGIN), request));
  },
};
