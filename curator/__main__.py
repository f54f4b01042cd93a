"""``python -m curator``: the CLI, run by the same interpreter (how ``curator ci`` calls its steps)."""

from curator.cli import main

if __name__ == "__main__":
    main(prog_name="curator")
