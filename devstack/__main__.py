"""`python3 -m devstack run` (standalone), `test` (suite), `bench` and `chaos`."""
import sys

USAGE = """usage: python3 -m devstack run [--port N] [--data-dir DIR]
       python3 -m devstack test [pytest arguments...]
       python3 -m devstack bench [--short] [NAME...]
       python3 -m devstack chaos [--short] [--seed N] [--keep]"""


def main(argv):
    if not argv or argv[0] not in ("run", "test", "bench", "chaos"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "run":
        from devstack import standalone

        return standalone.main(argv[1:])
    if argv[0] == "chaos":
        from devstack import chaos

        return chaos.main(argv[1:])
    if argv[0] == "bench":
        from devstack import bench

        return bench.main(argv[1:])
    from devstack import testrun

    return testrun.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
