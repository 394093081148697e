"""A writer process for the concurrency and crash tests.

usage: writer.py STORE_URL NAME PREFIX COUNT [GO_FILE]
Creates COUNT versions PREFIX-0.. of NAME, updating an earlier one every third step.
Prints 'begin OP VERSION CONTENT' before and 'ack OP VERSION CONTENT' after each operation.
"""

import os
import sys
import time

from promptgear.backends import backend_from_url

url, name, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
go = sys.argv[5] if len(sys.argv) > 5 else None
store = backend_from_url(url)
import filelock  # noqa: E402,F401  warm imports so a kill lands among writes, not imports
from promptgear.versionfile import _yaml  # noqa: E402

_yaml()
print("ready", flush=True)
while go and not os.path.exists(go):
    time.sleep(0.001)
for i in range(count):
    version = f"{prefix}-{i}"
    ops = [("create", version, f"created {version}")]
    if i % 3 == 2:
        ops.append(("update", f"{prefix}-{i - 2}", f"updated at {i}"))
    for op, target, text in ops:
        print(f"begin {op} {target} {text}", flush=True)
        if op == "create":
            store.create_prompt(name, target, text, "user {{x}}", {"i": i})
        else:
            store.update_prompt(name, target, system_prompt=text)
        print(f"ack {op} {target} {text}", flush=True)
store.close()
