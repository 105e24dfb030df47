"""``python -m banq.emulator``: the emulator's first command name, kept working.

The emulator is the top-level package ``banq_emulator`` (``python -m banq_emulator``): it stands
for banq, outside the store, and imports nothing of it. Nothing in the store imports this module.
"""

import sys

from banq_emulator.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
