"""``python -m hypersweep ...``: the same command line as the ``hypersweep`` script."""

from hypersweep.cli import main

if __name__ == "__main__":
    main()
