class HilError(Exception):
    """Root of every error the harness raises."""
