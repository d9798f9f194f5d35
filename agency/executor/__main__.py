"""`python -m agency.executor`: an executor host (settings from AGENCY_* variables)."""

from agency.executor.worker import main

if __name__ == "__main__":
    main()
