"""One of several processes writing the token store at once: sets its own entries, refreshes a shared one.

    python token_worker.py HOME WORKER COUNT
"""

from __future__ import annotations

import sys
from pathlib import Path

from assist.auth.oauth import secret
from assist.auth.store import TokenStore

home, worker, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = TokenStore(home)
for k in range(count):
    store.set(f"w{worker}-{k}", {"kind": "bearer", "token": f"tok-{worker}-{k}"})
    assert secret(store, "shared").startswith("AT-")  # refreshes it if it is about to expire
