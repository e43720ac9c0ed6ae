"""The tabs of the customer screen, one widget per module."""
