"""Offline side: dataset readers, windowing, leak-proof splits, training, metrics, reports and deployment.

Everything that turns an array into a model input comes from ``models/`` (the same code as live);
this package only reads files, cuts trials into windows, decides who trains on what, and reports.
"""
