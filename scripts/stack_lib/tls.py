"""Private CA of a stack and the one server certificate (localhost + 127.0.0.1) it signs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .core import Context, run_checked

SERVER_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


@dataclass
class Certificates:
    ca_cert: Path
    cert: Path
    key: Path


def make_certificates(ctx: Context) -> Certificates:
    """EC P-256 keys: generated in milliseconds, accepted by Dovecot, OpenSSL 3 and Python's ssl."""
    d = ctx.sub("tls")
    log = ctx.log("tls")
    ca_key, ca_cert = d / "ca.key", d / "ca.pem"
    key, csr, cert = d / "server.key", d / "server.csr", d / "server.pem"
    (d / "server.ext").write_text(SERVER_EXT)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run_checked("tls", ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert,
                        "-days", "30", "-subj", f"/CN=pimap local stack CA {ctx.id}",
                        "-config", "/dev/null",
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                        "-addext", "subjectKeyIdentifier=hash"],
                log, cwd=d)
    run_checked("tls", ["openssl", "req", "-new", *ec, "-keyout", key, "-out", csr,
                        "-subj", "/CN=localhost", "-config", "/dev/null"], log, cwd=d)
    run_checked("tls", ["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
                        "-CAcreateserial", "-days", "30", "-sha256", "-extfile", d / "server.ext",
                        "-out", cert], log, cwd=d)
    key.chmod(0o600)
    ca_key.chmod(0o600)
    return Certificates(ca_cert=ca_cert, cert=cert, key=key)
