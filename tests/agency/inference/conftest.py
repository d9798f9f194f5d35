from tests.support.inference import engine

__all__ = ["engine"]
