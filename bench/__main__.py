import sys

from bench import scale

if scale.wanted(sys.argv[1:]):
    sys.exit(scale.main(sys.argv[1:]))

from bench.run import main  # noqa: E402 - after the scale run's own entry point

sys.exit(main())
