// Reads [{kind, method, url, status, headers, body_b64, jwk}] (JSON) on stdin and prints
// [{ok, error}]: the `satu` signature verified by the npm library, and Content-Digest
// (sha-256, RFC 9530) recomputed here from the body.
import { createHash, createPublicKey } from "node:crypto";
import { httpbis, createVerifier } from "http-message-signatures";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
}));

const results = [];
for (const c of input) {
  try {
    const body = Buffer.from(c.body_b64, "base64");
    const digest = `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
    const lower = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v]));
    if (lower["content-digest"] !== digest) throw new Error("content-digest mismatch");
    const key = createPublicKey({ key: c.jwk, format: "jwk" });
    const message = c.kind === "request"
      ? { method: c.method, url: c.url, headers: lower }
      : { status: c.status, headers: lower };
    const ok = await httpbis.verifyMessage({
      keyLookup: async (params) => (params.keyid === c.jwk.kid
        ? { id: c.jwk.kid, algs: ["ed25519"], verify: createVerifier(key, "ed25519") }
        : null),
      requiredFields: c.kind === "request" ? ["@method", "@target-uri", "content-digest"] : ["@status", "content-digest"],
    }, message);
    results.push({ ok: ok === true, error: ok === true ? null : `result ${ok}` });
  } catch (error) {
    results.push({ ok: false, error: String(error && error.message || error) });
  }
}
process.stdout.write(JSON.stringify(results));
