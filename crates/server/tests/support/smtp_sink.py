"""A real SMTP server for the archive tests: aiosmtpd (Debian's
python3-aiosmtpd, which `cargo xtask test` installs).

Usage: smtp_sink.py FOLDER [REFUSE_FIRST]

Listens on a free port of 127.0.0.1 and prints it on one line. Every message
it accepts is written to FOLDER/NNNNNN.eml byte for byte as received (the
DATA after dot-unstuffing), with FOLDER/NNNNNN.json beside it naming the
envelope (mail_from, rcpt_tos). The first REFUSE_FIRST messages (0 by
default) are refused with 451, a temporary failure a client must retry;
each refusal is counted in FOLDER/refused. Runs until killed.
"""

import asyncio
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder, refuse_first):
        self.folder = folder
        self.refuse_first = refuse_first
        self.refused = 0
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refused < self.refuse_first:
            self.refused += 1
            self._write("refused", str(self.refused).encode())
            return "451 4.3.0 Try again later"
        self.accepted += 1
        stem = f"{self.accepted:06d}"
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}
        self._write(stem + ".json", json.dumps(meta).encode())
        # The message last: a reader that sees the .eml sees its envelope.
        self._write(stem + ".eml", envelope.original_content)
        return "250 2.0.0 Accepted"

    def _write(self, name, data):
        # Whole files only: written aside, then renamed into place.
        path = os.path.join(self.folder, name)
        with open(path + ".part", "wb") as part:
            part.write(data)
        os.replace(path + ".part", path)


async def main():
    folder = sys.argv[1]
    refuse_first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    sink = Sink(folder, refuse_first)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test"), host="127.0.0.1", port=0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
