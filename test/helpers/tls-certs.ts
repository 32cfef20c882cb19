// Certificates for TLS tests, made once per test process with the system's
// openssl: a test CA, a server certificate it signs for localhost and
// 127.0.0.1, and a second, unrelated CA (to show verification refusing).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  /** The CA that signed `cert`. */
  ca: Buffer;
  key: Buffer;
  cert: Buffer;
  /** A CA that signed nothing here. */
  otherCa: Buffer;
}

let made: TestCertificates | undefined;

export function testCertificates(): TestCertificates {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), "switchboard-tls-"));
  try {
    const ssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Switchboard Test CA");
    ssl("req", "-x509", ...ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=Unrelated CA");
    ssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
    writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext");
    const read = (name: string): Buffer => readFileSync(join(dir, name));
    made = { ca: read("ca.pem"), key: read("server.key"), cert: read("server.pem"), otherCa: read("other.pem") };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
