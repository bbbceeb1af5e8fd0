"""``python -m gradient_monitor demo [options]`` and ``python -m gradient_monitor replay SNAPSHOT``."""
import sys

USAGE = (
    "usage: python -m gradient_monitor demo [--steps N] [--explode-at S] [--rate HZ] [--url U] [--token T] [--synthetic]\n"
    "       python -m gradient_monitor replay SNAPSHOT   (prints the lines that rerun a saved non-finite step)"
)

if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "demo":
        from .demo import main

        sys.exit(main(sys.argv[2:]))
    if command == "replay" and len(sys.argv) == 3:
        from .snapshot import replay_lines

        print(replay_lines(sys.argv[2]))
        sys.exit(0)
    print(USAGE, file=sys.stderr)
    sys.exit(2)
