#!/usr/bin/python3
"""SMTP sink for integration tests (aiosmtpd).

Each accepted message becomes OUT/NNNN.eml (the exact bytes received) and OUT/NNNN.json
(envelope). Both are written before the 250 reply, so a client that saw 250 can read them.
With --reject every DATA is answered with that reply instead (the first --reject-times only,
if given) and one line is appended to OUT/rejected.jsonl per refused message.
"""
import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomic(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)  # readers never see half a file


class Sink:
    def __init__(self, out, reject=None, reject_times=None):
        self.out = out
        self.reject = reject
        self.reject_left = reject_times
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": session.auth_data.login.decode() if session.authenticated else None,
            # STARTTLS sets session.ssl; implicit TLS only shows on the transport
            "tls": session.ssl is not None
                   or server.transport.get_extra_info("ssl_object") is not None,
            "size": len(envelope.original_content),
        }
        if self.reject and (self.reject_left is None or self.reject_left > 0):
            if self.reject_left is not None:
                self.reject_left -= 1
            with open(os.path.join(self.out, "rejected.jsonl"), "a") as f:
                f.write(json.dumps(dict(info, reply=self.reject)) + "\n")
            return self.reject
        base = os.path.join(self.out, "%04d" % next(self.numbers))
        write_atomic(base + ".eml", envelope.original_content)
        write_atomic(base + ".json", json.dumps(info, indent=1).encode())  # last: marks complete
        return "250 2.0.0 OK queued as " + os.path.basename(base)


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                and auth_data.password == password.encode()):
            return AuthResult(success=True, auth_data=auth_data)  # else session.auth_data is None
        return AuthResult(success=False, handled=False)  # handled=True would send no reply at all
    return authenticate


async def main(a):
    os.makedirs(a.out, exist_ok=True)
    handler = Sink(a.out, a.reject, a.reject_times)
    ctx = None
    if a.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    starttls = ctx is not None and not a.smtps
    kwargs = dict(hostname="smtp-sink.test",  # avoids a slow getfqdn() per connection
                  tls_context=ctx if starttls else None,
                  # AUTH only after STARTTLS in that mode; plain TCP and SMTPS allow it at once
                  auth_require_tls=starttls)
    if a.user:
        kwargs.update(auth_required=True, authenticator=make_authenticator(a.user, a.password))
    loop = asyncio.get_running_loop()
    host, port = a.listen.rsplit(":", 1)
    server = await loop.create_server(lambda: SMTP(handler, loop=loop, **kwargs), host, int(port),
                                      ssl=ctx if a.smtps else None)
    if a.port_file:
        write_atomic(a.port_file, b"%d\n" % server.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--port-file")
    p.add_argument("--out", required=True)
    p.add_argument("--user")
    p.add_argument("--password", default="")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--smtps", action="store_true", help="implicit TLS (needs --tls-cert/--tls-key)")
    p.add_argument("--reject", help='reply to DATA, e.g. "451 4.3.0 try later"')
    p.add_argument("--reject-times", type=int, help="reject only the first N messages")
    a = p.parse_args()
    if a.smtps and not a.tls_cert:
        p.error("--smtps needs --tls-cert and --tls-key")
    # Known noise: AUTH without TLS is intended here, login_data is set by aiosmtpd itself
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mail.log").addFilter(lambda r: "login_data is deprecated" not in r.getMessage())
    asyncio.run(main(a))
