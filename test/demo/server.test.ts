import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoServer } from "../../demo/server.ts";

/** A raw GET (fetch would normalise "/../" away before the server sees it). */
function get(origin: string, path: string): Promise<{ status: number; type: string; body: string; location?: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path, method: "GET" }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          type: String(response.headers["content-type"]),
          body,
          location: response.headers.location,
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

test("the demo server serves the folder's files with their types, redirects / and refuses what is outside", async () => {
  const root = mkdtempSync(join(tmpdir(), "staq-serve-"));
  mkdirSync(join(root, "demo"));
  writeFileSync(join(root, "demo", "index.html"), "<p>page</p>");
  writeFileSync(join(root, "demo", "page.js"), "export {};");
  writeFileSync(join(tmpdir(), "staq-serve-secret.txt"), "secret");
  const server = await startDemoServer({ root, port: 0 });
  try {
    assert.match(server.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    const redirect = await get(server.origin, "/");
    assert.equal(redirect.status, 302);
    assert.equal(redirect.location, "/demo/");
    const page = await get(server.origin, "/demo/");
    assert.deepEqual([page.status, page.type, page.body], [200, "text/html; charset=utf-8", "<p>page</p>"]);
    const script = await get(server.origin, "/demo/page.js");
    assert.equal(script.type, "text/javascript; charset=utf-8");
    assert.equal((await get(server.origin, "/demo/missing.js")).status, 404);
    assert.equal((await get(server.origin, "/demo")).status, 302);
    const escape = await get(server.origin, "/../staq-serve-secret.txt");
    assert.ok(escape.status === 403 || escape.status === 404, `a path outside the root answered ${escape.status}`);
    assert.notEqual(escape.body, "secret");
    // Encoded slashes survive URL parsing and only become "../" when decoded: still refused.
    const encoded = await get(server.origin, "/demo/..%2f..%2f..%2fstaq-serve-secret.txt");
    assert.equal(encoded.status, 403);
    assert.notEqual((await get(server.origin, "/demo/%2e%2e/%2e%2e/staq-serve-secret.txt")).status, 200);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(join(tmpdir(), "staq-serve-secret.txt"), { force: true });
  }
});

test("a taken port is an error (EADDRINUSE), not a silent second server", async () => {
  const first = await startDemoServer({ port: 0 });
  try {
    await assert.rejects(startDemoServer({ port: first.port }), (error: NodeJS.ErrnoException) => error.code === "EADDRINUSE");
  } finally {
    await first.close();
  }
});

/**
 * One request written by hand on a socket, so the request line can be anything a hostile page or
 * tool sends (Node's own client refuses some of these); resolves with the status line's code.
 */
function rawStatus(origin: string, requestLine: string): Promise<number> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${requestLine}\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => (text += chunk));
    socket.on("end", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on("error", reject);
  });
}

test("malformed requests get 400 and the server keeps serving (a page the user visits can send them)", async () => {
  const root = mkdtempSync(join(tmpdir(), "staq-serve-"));
  mkdirSync(join(root, "demo"));
  writeFileSync(join(root, "demo", "index.html"), "<p>page</p>");
  const server = await startDemoServer({ root, port: 0 });
  try {
    // Each of these threw inside the handler (decodeURIComponent, or new URL for "//"), and the
    // unhandled rejection ended the process.
    for (const path of ["/%", "/%ff", "/demo/%E0%A4%A", "//", "//%", "http://["]) {
      assert.equal(await rawStatus(server.origin, `GET ${path} HTTP/1.1`), 400, `GET ${path}`);
      const page = await get(server.origin, "/demo/");
      assert.equal(page.status, 200, `after GET ${path} the server must still serve`);
    }
    // A NUL byte decodes to a path that fs refuses: not found, not a crash.
    assert.equal(await rawStatus(server.origin, "GET /demo/%00 HTTP/1.1"), 404);
    assert.equal((await get(server.origin, "/demo/")).status, 200);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
