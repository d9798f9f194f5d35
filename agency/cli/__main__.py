"""`python -m agency.cli` runs the same app as the `agency` console script.

The demo drives the CLI this way so that it works before the console script is installed.
"""

from agency.cli.main import app

if __name__ == "__main__":
    app(prog_name="agency")
