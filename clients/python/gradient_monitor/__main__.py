"""``python -m gradient_monitor demo [options]`` or ``python -m gradient_monitor doctor``."""
import sys

USAGE = """usage: python -m gradient_monitor demo [--steps N] [--explode-at S] [--rate HZ] [--url U] [--token T] [--synthetic]
       python -m gradient_monitor doctor [--no-connect]   which endpoint a run would use, and why"""

if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "demo":
        from .demo import main
    elif command == "doctor":
        from .doctor import main
    else:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
