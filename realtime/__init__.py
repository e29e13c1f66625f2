"""Live data: sources, one clock, ring buffers, workers, sinks, hot-swap and the dashboard.

This package owns every thread of the running app.
"""
