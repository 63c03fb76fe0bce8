"""An OCSP responder for the revocation tests, built on `cryptography`'s
OCSP builder: every response is built and signed when asked.

    responder.py serve CONFIG     listen on 127.0.0.1 (a free port, printed
                                  as "port N"), answer POSTed requests, stop
                                  after 200 requests or 120 s
    responder.py staple CONFIG SERIAL LEAF_PEM OUT
                                  write the response about the leaf to OUT

CONFIG (JSON, read again for every request, so the test can write it once
it knows the port): "signers": name -> {"cert", "key"} (PEM), "issuer"
(the CA's certificate, PEM), "answers": serial (decimal) ->
{"status": good|revoked|unknown, "signer": name, "this": s, "next": s}
(seconds from now), "log": a file each asked serial is appended to.
"""

import datetime
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

STATUS = {
    "good": ocsp.OCSPCertStatus.GOOD,
    "revoked": ocsp.OCSPCertStatus.REVOKED,
    "unknown": ocsp.OCSPCertStatus.UNKNOWN,
}


def load_config(path):
    with open(path) as f:
        return json.load(f)


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def sign(config, answer, add):
    """A successful response: `add(builder, status, this, next, revoked_at,
    reason)` adds the single response; signed as `answer["signer"]` says."""
    signer = config["signers"][answer["signer"]]
    cert = x509.load_pem_x509_certificate(signer["cert"].encode())
    key = serialization.load_pem_private_key(signer["key"].encode(), password=None)
    status = STATUS[answer["status"]]
    revoked = status == ocsp.OCSPCertStatus.REVOKED
    builder = add(
        ocsp.OCSPResponseBuilder(),
        status,
        now() + datetime.timedelta(seconds=answer["this"]),
        now() + datetime.timedelta(seconds=answer["next"]),
        now() - datetime.timedelta(hours=1) if revoked else None,
        x509.ReasonFlags.key_compromise if revoked else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, cert)
    if answer["signer"] != "ca":
        builder = builder.certificates([cert])
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def serve(config_path):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            config = load_config(config_path)
            request = ocsp.load_der_ocsp_request(body)
            with open(config["log"], "a") as log:
                log.write(f"{request.serial_number}\n")
            answer = config["answers"].get(str(request.serial_number))
            if answer is None:
                der = ocsp.OCSPResponseBuilder.build_unsuccessful(
                    ocsp.OCSPResponseStatus.UNAUTHORIZED
                ).public_bytes(serialization.Encoding.DER)
            else:
                der = sign(
                    config,
                    answer,
                    lambda b, status, this, next_, at, reason: b.add_response_by_hash(
                        request.issuer_name_hash,
                        request.issuer_key_hash,
                        request.serial_number,
                        request.hash_algorithm,
                        status,
                        this,
                        next_,
                        at,
                        reason,
                    ),
                )
            self.send_response(200)
            self.send_header("content-type", "application/ocsp-response")
            self.send_header("content-length", str(len(der)))
            self.end_headers()
            self.wfile.write(der)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.timeout = 1
    print(f"port {server.server_address[1]}", flush=True)
    deadline = time.monotonic() + 120
    for _ in range(200):
        if time.monotonic() > deadline:
            break
        server.handle_request()


def staple(config_path, serial, leaf_path, out):
    config = load_config(config_path)
    with open(leaf_path, "rb") as f:
        leaf = x509.load_pem_x509_certificate(f.read())
    issuer = x509.load_pem_x509_certificate(config["issuer"].encode())
    der = sign(
        config,
        config["answers"][serial],
        lambda b, status, this, next_, at, reason: b.add_response(
            leaf, issuer, hashes.SHA1(), status, this, next_, at, reason
        ),
    )
    with open(out, "wb") as f:
        f.write(der)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        staple(*sys.argv[2:6])
