"""``python -m gradient_monitor demo [options]``, ``doctor`` and ``replay SNAPSHOT``."""
import sys

USAGE = """usage: python -m gradient_monitor demo [--steps N] [--explode-at S] [--rate HZ] [--url U] [--token T] [--synthetic]
       python -m gradient_monitor doctor [--no-connect]   which endpoint a run would use, and why
       python -m gradient_monitor replay SNAPSHOT         the lines that rerun a saved non-finite step"""

if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "demo":
        from .demo import main
    elif command == "doctor":
        from .doctor import main
    elif command == "replay" and len(sys.argv) == 3:
        from .snapshot import replay_lines

        print(replay_lines(sys.argv[2]), end="")
        sys.exit(0)
    else:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
