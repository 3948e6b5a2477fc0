// The load benchmark's baseline: a bare JS Worker that forwards every request to
// env.ORIGIN unchanged (method, headers, body; only the URL's origin is swapped) and
// returns the origin's response as is. What keygate adds is measured against this.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = new URL(url.pathname + url.search, env.ORIGIN);
    return fetch(new Request(target, request));
  },
};
