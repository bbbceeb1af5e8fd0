"""``python -m gradient_monitor demo [options]``."""
import sys

from .demo import main

USAGE = "usage: python -m gradient_monitor demo [--steps N] [--explode-at S] [--rate HZ] [--url U] [--token T] [--synthetic]"

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "demo":
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
