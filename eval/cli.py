"""`eval-vmae`: not implemented yet (see the project's open issues)."""
import sys


def main(argv: list[str] | None = None) -> int:
    print("eval-vmae: not yet implemented; this release ships `synth` only", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
