"""``python -m nbtrack``: the command line, where the ``nbtrack`` script is not on PATH."""

from nbtrack.cli import main

if __name__ == "__main__":
    main(prog_name="nbtrack")
