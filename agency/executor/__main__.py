"""`python -m agency.executor`: serve the executor (settings from AGENCY_* variables)."""

from agency.executor.app import main

if __name__ == "__main__":
    main()
