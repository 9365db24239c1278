#!/usr/bin/env python3
"""Checks the Lambda bootstraps `cargo lambda build` wrote: each is an ELF executable for the
architecture asked for (x86_64 or arm64, as the template's Architecture parameter names them), and
prints its size. Usage: check-bootstraps.py ARCH DIR FUNCTION..."""
import os
import struct
import sys

MACHINES = {"x86_64": 0x3E, "arm64": 0xB7}  # ELF e_machine: EM_X86_64, EM_AARCH64


def main() -> int:
    arch, folder, functions = sys.argv[1], sys.argv[2], sys.argv[3:]
    want = MACHINES[arch]
    bad = 0
    for f in functions:
        path = os.path.join(folder, f, "bootstrap")
        with open(path, "rb") as fh:
            head = fh.read(20)
        machine = struct.unpack_from("<H", head, 18)[0] if head[:4] == b"\x7fELF" else None
        size = os.path.getsize(path)
        ok = machine == want
        bad += not ok
        name = {v: k for k, v in MACHINES.items()}.get(machine, f"machine {machine}")
        print(f"{f:22} {name:7} {size / 1e6:6.2f} MB {'ok' if ok else 'WRONG ARCHITECTURE, want ' + arch}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
