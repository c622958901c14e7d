"""thaija: Thai–Japanese (and English) retrieval, cost, tuning and grounded answers."""
__version__ = "0.1.0"
